"""An unmodified asyncio HTTP server (standard library only) for the serving tests.

Answers every request with the number of requests this process has served: in ephemeral
mode that is always 1. Usage: python3 asyncio_server.py PORT [random]

With "random" it answers "<8 OpenSSL random bytes in hex> <a tempfile name>" instead, having
drawn from both generators before it is frozen, as node's crypto and any TLS server do: a library
that notices a fork only by getpid() changing must see every request VM as a new process, or
every request draws the same bytes.
"""
import asyncio
import sys

served = 0
RANDOM = len(sys.argv) > 2 and sys.argv[2] == "random"

if RANDOM:
    import ssl
    import tempfile

    ssl.RAND_bytes(8)
    next(tempfile._get_candidate_names())


def answer():
    global served
    served += 1
    if RANDOM:
        return f"{ssl.RAND_bytes(8).hex()} {next(tempfile._get_candidate_names())}"
    return f"python served={served}"


async def handle(reader, writer):
    await reader.readuntil(b"\r\n\r\n")
    body = answer().encode()
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
    await writer.drain()
    writer.close()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]))
    async with server:
        await server.serve_forever()


asyncio.run(main())
