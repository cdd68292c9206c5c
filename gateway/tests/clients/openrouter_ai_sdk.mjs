// @openrouter/ai-sdk-provider with the `ai` package against PromptGrid: generateText and streamText,
// or, with PROMPTGRID_EMBED_MODEL set, embedMany.
// Run by gateway/tests/test_openrouter_ai_sdk.py (copied next to its node_modules); prints one JSON line.
import { createOpenRouter } from "@openrouter/ai-sdk-provider";
import { embedMany, generateText, streamText } from "ai";

const openrouter = createOpenRouter({
  apiKey: process.env.PROMPTGRID_KEY,
  baseURL: process.env.PROMPTGRID_BASE_URL,
  headers: { "HTTP-Referer": "https://ai-sdk.example/", "X-OpenRouter-Title": "AI SDK test" },
});
if (process.env.PROMPTGRID_EMBED_MODEL) {
  const embedded = await embedMany({
    model: openrouter.textEmbeddingModel(process.env.PROMPTGRID_EMBED_MODEL),
    values: JSON.parse(process.env.PROMPTGRID_VALUES),
    maxRetries: 0,
  });
  console.log(JSON.stringify({ embeddings: embedded.embeddings, tokens: embedded.usage.tokens }));
  process.exit(0);
}

const model = openrouter(process.env.PROMPTGRID_MODEL, { usage: { include: true } });
const prompt = process.env.PROMPTGRID_PROMPT;

const generated = await generateText({ model, prompt, maxRetries: 0 });
const streamed = streamText({ model, prompt, maxRetries: 0 });
let text = "";
let chunks = 0;
for await (const part of streamed.textStream) {
  text += part;
  chunks += 1;
}
const streamedUsage = await streamed.usage;
console.log(
  JSON.stringify({
    generated: {
      text: generated.text,
      finishReason: generated.finishReason,
      inputTokens: generated.usage.inputTokens,
      outputTokens: generated.usage.outputTokens,
      responseId: generated.response.id,
      modelId: generated.response.modelId,
    },
    streamed: {
      text,
      chunks,
      finishReason: await streamed.finishReason,
      inputTokens: streamedUsage.inputTokens,
      outputTokens: streamedUsage.outputTokens,
    },
  }),
);
