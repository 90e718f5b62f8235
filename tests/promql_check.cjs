// Parse PromQL expressions with Prometheus's own grammar (@prometheus-io/lezer-promql, the parser of
// Prometheus's web UI editor). Reads a JSON list of expressions on stdin; prints a JSON list with,
// for each, null when it parses, else the position and text around the first syntax error.
const { parser } = require("@prometheus-io/lezer-promql");

let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const results = JSON.parse(input).map((expr) => {
    let error = null;
    parser.parse(expr).iterate({
      enter(node) {
        if (error === null && node.type.isError) {
          error = `syntax error at ${node.from}: ...${expr.slice(Math.max(0, node.from - 20), node.from + 20)}...`;
        }
      },
    });
    return error;
  });
  process.stdout.write(JSON.stringify(results));
});
