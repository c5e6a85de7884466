# Compress one GLB and save the result; the size headers are printed.
curl --fail-with-body -sS -X POST "$GLBCOMPRESS_URL/v1/compress?preset=balanced" \
  -H "Authorization: Bearer $GLBCOMPRESS_API_KEY" \
  -H "Content-Type: model/gltf-binary" \
  --data-binary @model.glb \
  -D headers.txt -o model-compressed.glb
grep -i '^x-\(original\|compressed\)-size\|^x-compression-ratio' headers.txt
