# Submit a job, poll it until it ends, then download the result.
auth="Authorization: Bearer $GLBCOMPRESS_API_KEY"
job=$(curl --fail-with-body -sS -X POST "$GLBCOMPRESS_URL/v1/jobs?filename=model.glb" \
  -H "$auth" --data-binary @model.glb)
id=$(printf '%s' "$job" | sed -E 's/.*"id":"([0-9a-f]+)".*/\1/')
while :; do
  status=$(curl -sS -H "$auth" "$GLBCOMPRESS_URL/v1/jobs/$id" | sed -E 's/.*"status":"([a-z]+)".*/\1/')
  case "$status" in queued|running) sleep 1 ;; *) break ;; esac
done
echo "job $id $status"
[ "$status" = succeeded ] && curl --fail-with-body -sS -H "$auth" \
  "$GLBCOMPRESS_URL/v1/jobs/$id/result" -o model-compressed.glb
