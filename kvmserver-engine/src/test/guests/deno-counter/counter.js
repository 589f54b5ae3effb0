// A per-process request counter served by Deno.serve: the body is the number of requests this
// process has served, so in ephemeral mode every new connection must read "1".
//   deno run --allow-net=127.0.0.1 counter.js PORT
const port = Number(Deno.args[0]);
if (!Number.isInteger(port) || port <= 0) {
  console.error("usage: counter.js PORT");
  Deno.exit(2);
}
let served = 0;
Deno.serve({ hostname: "127.0.0.1", port }, () => new Response(String(++served)));
