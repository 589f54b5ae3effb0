"""An asyncio HTTP server that does work after start_server, before it serves.

asyncio's start_server makes a zero-timeout epoll_wait while it sets up; everything printed after
it must be printed once, by the template, never again by a request VM. Answers every request with
the number of requests this process has served. Usage: python3 asyncio_startup.py PORT
"""
import asyncio
import sys

served = 0


async def handle(reader, writer):
    global served
    await reader.readuntil(b"\r\n\r\n")
    served += 1
    body = f"served={served}".encode()
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
    await writer.drain()
    writer.close()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]))
    print("start-up finished after start_server", flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
