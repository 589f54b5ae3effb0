"""An unmodified asyncio HTTP server (standard library only) for the serving tests.

Answers every request with the number of requests this process has served: in ephemeral
mode that is always 1. Usage: python3 asyncio_server.py PORT
"""
import asyncio
import sys

served = 0


async def handle(reader, writer):
    global served
    await reader.readuntil(b"\r\n\r\n")
    served += 1
    body = f"python served={served}".encode()
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
    await writer.drain()
    writer.close()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]))
    async with server:
        await server.serve_forever()


asyncio.run(main())
