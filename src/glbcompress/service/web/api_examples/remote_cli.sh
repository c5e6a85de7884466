# The command line: `glbcompress remote` takes the flags of `glbcompress compress` and runs them
# on the server (GLBCOMPRESS_URL), several files at once; the key comes from GLBCOMPRESS_API_KEY
# or --api-key-file, never from an argument. Exit code 0 only when every file was compressed.
glbcompress remote account
glbcompress remote compress model.glb scene/ -o compressed/ --concurrency 4 --preset max --position-bits 12
