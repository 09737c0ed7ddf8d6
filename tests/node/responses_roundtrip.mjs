// Responses API tool-call round trips with the official OpenAI Node SDK: `responses.create`
// (history sent back, and `previous_response_id`) and `responses.stream`, through each alias
// named on the command line. Run by crates/gateway/tests/providers_responses.rs.
//
// usage: node responses_roundtrip.mjs BASE_URL ALIAS [ALIAS ...]
import assert from "node:assert/strict";
import OpenAI from "openai";

const TOOLS = [{
  type: "function",
  name: "get_weather",
  description: "Current weather in a city",
  parameters: {
    type: "object",
    properties: { city: { type: "string" }, unit: { type: "string" } },
    required: ["city"],
  },
  strict: false,
}];
const QUESTION = "What is the weather in Paris and Tokyo?";
const WEATHER = { Paris: "18C and sunny", Tokyo: "22C and rainy" };

function callsOf(response) {
  const calls = response.output.filter((o) => o.type === "function_call");
  const cities = calls.map((c) => JSON.parse(c.arguments).city).sort();
  assert.deepEqual(cities, ["Paris", "Tokyo"], JSON.stringify(response));
  for (const c of calls) assert.ok(c.name === "get_weather" && c.call_id, JSON.stringify(c));
  return calls;
}

function results(calls) {
  return calls.map((c) => ({
    type: "function_call_output",
    call_id: c.call_id,
    output: JSON.stringify({ forecast: WEATHER[JSON.parse(c.arguments).city] }),
  }));
}

function checkAnswer(text) {
  assert.ok(text.includes("got tool results") && text.includes("18C") && text.includes("22C"), text);
}

async function plain(client, alias) {
  const r = await client.responses.create({ model: alias, input: QUESTION, tools: TOOLS });
  assert.equal(r.status, "completed", JSON.stringify(r));
  const calls = callsOf(r);
  assert.ok(r.usage.input_tokens > 0 && r.usage.output_tokens > 0, JSON.stringify(r.usage));
  const history = [{ role: "user", content: QUESTION },
    ...calls.map((c) => ({ type: "function_call", call_id: c.call_id, name: c.name, arguments: c.arguments }))];
  const again = await client.responses.create({ model: alias, input: [...history, ...results(calls)], tools: TOOLS, store: false });
  checkAnswer(again.output_text);
  const follow = await client.responses.create({ model: alias, previous_response_id: r.id, input: results(calls), tools: TOOLS });
  checkAnswer(follow.output_text);
}

async function streamed(client, alias) {
  const stream = client.responses.stream({ model: alias, input: QUESTION, tools: TOOLS });
  const kinds = [];
  for await (const event of stream) kinds.push(event.type);
  const first = await stream.finalResponse();
  assert.equal(kinds[0], "response.created", kinds.join());
  assert.equal(kinds[kinds.length - 1], "response.completed", kinds.join());
  assert.ok(kinds.includes("response.function_call_arguments.delta"), kinds.join());
  const calls = callsOf(first);
  let text = "";
  let usage = null;
  const events = await client.responses.create({
    model: alias, previous_response_id: first.id, input: results(calls), tools: TOOLS, stream: true,
  });
  for await (const event of events) {
    if (event.type === "response.output_text.delta") text += event.delta;
    if (event.type === "response.completed") usage = event.response.usage;
  }
  checkAnswer(text);
  assert.ok(usage && usage.output_tokens > 0, JSON.stringify(usage));
}

const [base, ...aliases] = process.argv.slice(2);
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: "client-secret-key", maxRetries: 0 });
for (const alias of aliases) {
  await plain(client, alias);
  await streamed(client, alias);
  console.log("ok", alias);
}
