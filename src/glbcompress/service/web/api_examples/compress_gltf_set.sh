# A .gltf with its files as one multipart upload (each part named by its path), options as fields.
curl --fail-with-body -sS -X POST "$GLBCOMPRESS_URL/v1/compress" \
  -H "Authorization: Bearer $GLBCOMPRESS_API_KEY" \
  -F "file=@scene/scene.gltf;filename=scene.gltf" \
  -F "file=@scene/scene.bin;filename=scene.bin" \
  -F "file=@scene/textures/wood.png;filename=textures/wood.png" \
  -F preset=max -F position_bits=12 \
  -o scene-compressed.glb
