"""An asyncio HTTP server whose answers are drawn from the libraries' own random generators.

The template draws from OpenSSL's generator and makes a temporary file name before it is frozen,
so both generators hold state in the image every request VM starts from, as node's crypto and any
TLS server's do. Each request answers "<8 OpenSSL random bytes in hex> <a tempfile name>": a
library that notices a fork only by getpid() changing must see every request VM as a new
process, or every request draws the same bytes. Usage: python3 randomness_server.py PORT
"""
import asyncio
import ssl
import sys
import tempfile

ssl.RAND_bytes(8)
next(tempfile._get_candidate_names())


async def handle(reader, writer):
    await reader.readuntil(b"\r\n\r\n")
    body = f"{ssl.RAND_bytes(8).hex()} {next(tempfile._get_candidate_names())}".encode()
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
    await writer.drain()
    writer.close()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]))
    async with server:
        await server.serve_forever()


asyncio.run(main())
