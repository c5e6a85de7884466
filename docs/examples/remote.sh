#!/bin/sh
# Compress a folder of models on the server named by GLBCOMPRESS_URL, four at a time.
# The API key comes from GLBCOMPRESS_API_KEY, or a file: --api-key-file ~/.config/glbcompress/key
set -e
glbcompress remote account
glbcompress remote compress models/ -o dist/ --concurrency 4 --preset max --position-bits 12
