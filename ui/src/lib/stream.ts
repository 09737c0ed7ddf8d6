// Reassembles a captured server-sent-events body (OpenAI chat chunks or Anthropic message
// events) into the text the client saw.

export function reassemble(sse: string): { text: string; events: number } | null {
  let text = '';
  let events = 0;
  for (const line of sse.split('\n')) {
    if (!line.startsWith('data:')) continue;
    const data = line.slice(5).trim();
    if (!data || data === '[DONE]') continue;
    let value: unknown;
    try {
      value = JSON.parse(data);
    } catch {
      continue;
    }
    events++;
    const v = value as {
      choices?: { delta?: { content?: string | null }; text?: string }[];
      delta?: { text?: string; type?: string };
    };
    for (const choice of v.choices ?? []) {
      text += choice.delta?.content ?? choice.text ?? '';
    }
    if (v.delta?.text) text += v.delta.text;
  }
  return events === 0 ? null : { text, events };
}
