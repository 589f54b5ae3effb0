// A per-process request counter served by node's http module: the body is the number of
// requests this process has served, so in ephemeral mode every new connection must read "1".
//   node counter.js PORT
const http = require("node:http");
const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error("usage: counter.js PORT");
  process.exit(2);
}
let served = 0;
http
  .createServer((request, response) => {
    response.end(String(++served));
  })
  .listen(port, "127.0.0.1", () => console.log(`listening on 127.0.0.1:${port}`));
