// A per-process request counter served by Bun.serve: the body is the number of requests this
// process has served, so in ephemeral mode every new connection must read "1".
//   bun counter.js PORT
const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error("usage: counter.js PORT");
  process.exit(2);
}
let served = 0;
Bun.serve({
  hostname: "127.0.0.1",
  port,
  fetch() {
    return new Response(String(++served));
  },
});
console.log(`listening on 127.0.0.1:${port}`);
