"""A webhook receiver that checks each delivery's signature (Standard Webhooks, HMAC-SHA256) before
trusting it. The secret comes from GET /v1/webhooks/secret."""

import base64
import hashlib
import hmac
import json
import os
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import requests

url = os.environ.get("GLBCOMPRESS_URL", "http://127.0.0.1:8000")
headers = {"Authorization": f"Bearer {os.environ['GLBCOMPRESS_API_KEY']}"}
secret = requests.get(f"{url}/v1/webhooks/secret", headers=headers).json()["secret"]
key = base64.b64decode(secret.removeprefix("whsec_"))


def verified(msg_id: str, timestamp: str, body: bytes, signatures: str) -> bool:
    if abs(time.time() - int(timestamp)) > 300:  # refuse old (replayed) deliveries
        return False
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(s.partition(",")[2], expected) for s in signatures.split())


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        h = self.headers
        if not verified(h["webhook-id"], h["webhook-timestamp"], body, h["webhook-signature"]):
            self.send_response(401)
            self.end_headers()
            return
        event = json.loads(body)
        print(event["type"], event["data"]["id"], event["data"]["status"], flush=True)
        self.send_response(204)  # any 2xx acknowledges; anything else is retried
        self.end_headers()


HTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8001"))), Receiver).serve_forever()
