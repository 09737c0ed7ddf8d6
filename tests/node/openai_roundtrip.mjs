// Tool-call round trips with the official OpenAI Node SDK, streaming and not, through each
// alias named on the command line. Run by crates/gateway/tests/providers_sdk.rs.
//
// usage: node openai_roundtrip.mjs BASE_URL ALIAS [ALIAS ...]
import assert from "node:assert/strict";
import OpenAI from "openai";

const TOOLS = [{
  type: "function",
  function: {
    name: "get_weather",
    description: "Current weather in a city",
    parameters: {
      type: "object",
      properties: { city: { type: "string" }, unit: { type: "string" } },
      required: ["city"],
    },
  },
}];
const QUESTION = [{ role: "user", content: "What is the weather in Paris and Tokyo?" }];
const WEATHER = { Paris: "18C and sunny", Tokyo: "22C and rainy" };

function checkCalls(calls) {
  const cities = calls.map((c) => JSON.parse(c.arguments).city).sort();
  assert.deepEqual(cities, ["Paris", "Tokyo"], JSON.stringify(calls));
  for (const c of calls) assert.ok(c.name === "get_weather" && c.id, JSON.stringify(c));
}

function followUp(calls) {
  const assistant = {
    role: "assistant",
    content: null,
    tool_calls: calls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } })),
  };
  const results = calls.map((c) => ({
    role: "tool",
    tool_call_id: c.id,
    content: JSON.stringify({ forecast: WEATHER[JSON.parse(c.arguments).city] }),
  }));
  return [...QUESTION, assistant, ...results];
}

function checkAnswer(text) {
  assert.ok(text.includes("got tool results") && text.includes("18C") && text.includes("22C"), text);
}

async function plain(client, alias) {
  let r = await client.chat.completions.create({ model: alias, messages: QUESTION, tools: TOOLS });
  assert.equal(r.choices[0].finish_reason, "tool_calls", JSON.stringify(r));
  const calls = r.choices[0].message.tool_calls.map((c) => ({ id: c.id, name: c.function.name, arguments: c.function.arguments }));
  checkCalls(calls);
  r = await client.chat.completions.create({ model: alias, messages: followUp(calls), tools: TOOLS });
  assert.equal(r.choices[0].finish_reason, "stop");
  checkAnswer(r.choices[0].message.content);
}

async function streamed(client, alias) {
  const calls = new Map();
  let finish = null;
  const stream = await client.chat.completions.create({ model: alias, messages: QUESTION, tools: TOOLS, stream: true });
  for await (const chunk of stream) {
    for (const choice of chunk.choices) {
      for (const d of choice.delta.tool_calls ?? []) {
        const c = calls.get(d.index) ?? { id: "", name: "", arguments: "" };
        c.id = d.id || c.id;
        c.name += d.function?.name ?? "";
        c.arguments += d.function?.arguments ?? "";
        calls.set(d.index, c);
      }
      finish = choice.finish_reason ?? finish;
    }
  }
  assert.equal(finish, "tool_calls");
  const list = [...calls.keys()].sort().map((k) => calls.get(k));
  checkCalls(list);
  let text = "";
  finish = null;
  const answer = await client.chat.completions.create({ model: alias, messages: followUp(list), tools: TOOLS, stream: true });
  for await (const chunk of answer) {
    for (const choice of chunk.choices) {
      text += choice.delta.content ?? "";
      finish = choice.finish_reason ?? finish;
    }
  }
  assert.equal(finish, "stop");
  checkAnswer(text);
}

const [base, ...aliases] = process.argv.slice(2);
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: "client-secret-key", maxRetries: 0 });
for (const alias of aliases) {
  await plain(client, alias);
  await streamed(client, alias);
  console.log("ok", alias);
}
