"""The sample's Python guest: the standard library's HTTP server, nothing kvmserver-specific.

A single-threaded http.server.HTTPServer (kvmserver forks the whole process per connection, so
the server needs no threads). It counts requests in a global; in ephemeral mode every connection
sees a fresh copy of the process, so the count is always 1.
Usage: python3 hello_server.py [port]   (listens on 127.0.0.1, default 8001)
"""
import http.server
import sys

served = 0


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        global served
        served += 1
        body = f"Hello from a KVM-isolated Python server! Requests this process has served: {served}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)


port = int(sys.argv[1]) if len(sys.argv) > 1 else 8001
server = http.server.HTTPServer(("127.0.0.1", port), Hello)
print(f"hello_server.py listening on 127.0.0.1:{port}", flush=True)
server.serve_forever()
