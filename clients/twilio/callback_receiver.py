"""A callback receiver to try the bridge with: prints each message the bridge POSTs to its
`callback_url` (final turns, speaker revisions, the call's Begin and Termination).

    python3 clients/twilio/callback_receiver.py --port 9000
    # then give the stream  <Parameter name="callback_url" value="http://HOST:9000/calls"/>

Answer 2xx once a message is stored: anything else (or no answer within 10 s) is retried
after 1, 2, 4, ... s, and the bridge gives the receiver up after 8 failures in a row.
Messages may come twice (a retry of one whose answer was lost): `sequence` tells them apart.
"""

from __future__ import annotations

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        message = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        where = f"{message['call_sid']} #{message['sequence']}"
        if message["type"] == "Turn":
            print(
                f"{where} [{message['channel']}] {message.get('speaker_label')}: "
                f"{message['transcript']}",
                flush=True,
            )
        else:
            print(f"{where} {message['type']}", flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args()
    ThreadingHTTPServer((args.host, args.port), Receiver).serve_forever()
