"""The ``openai-agents`` SDK with its default model (the Responses API) runs an agent with a
function tool against PromptGrid, for a mock, an OpenAI, an Anthropic and a Gemini model."""

from __future__ import annotations

import asyncio

import openai
import pytest
from agents import Agent, Runner, function_tool, set_default_openai_client, set_tracing_disabled

from billing.models import Generation
from gateway.tests.responses.conftest import MODELS
from gateway.tests.responses.test_sdk_responses import _push_tool_call

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning"),
]

calls: list[str] = []


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    calls.append(city)
    return f"Sunny in {city}, 21C"


@pytest.mark.parametrize("streamed", [False, True], ids=["run", "run_streamed"])
@pytest.mark.parametrize("model", MODELS)
def test_an_agent_calls_its_function_tool_and_answers_billed(world, model, streamed):
    calls.clear()
    _push_tool_call(world, model)
    fake = world.fake_for(model)
    if fake is not None:
        fake.push(
            {"kind": "normal" if model.startswith("openai/") else "text", "text": "It is sunny in Paris."}
        )
    # The SDK routes "prefix/name" to its own providers; PromptGrid resolves the bare upstream name.
    bare = model.split("/")[1]
    agent = Agent(name="Weather", instructions="Use the tool.", tools=[get_weather], model=bare)
    prompt = 'What is the weather in Paris? call get_weather {"city": "Paris"}'
    before = world.customer.balance()

    async def run() -> str:
        # The SDK's defaults, with its client pointed at PromptGrid (created on this event loop);
        # its traces go nowhere, as tests have no network.
        set_tracing_disabled(True)
        client = openai.AsyncOpenAI(base_url=f"{world.url}/api/v1", api_key=world.customer.secret)
        set_default_openai_client(client, use_for_tracing=False)
        try:
            if not streamed:
                return (await Runner.run(agent, prompt)).final_output
            result = Runner.run_streamed(agent, prompt)
            async for _ in result.stream_events():
                pass
            return result.final_output
        finally:
            await client.close()

    final = asyncio.run(run())

    assert calls == ["Paris"]
    assert ("Sunny in Paris" in final) if model == "mock/echo" else final == "It is sunny in Paris."
    generations = Generation.objects.filter(api="responses", status="success")
    assert generations.count() == 2 and all(g.streamed is streamed for g in generations)
    assert before - world.customer.balance() == sum(g.cost_nanos for g in generations) > 0
    assert world.customer.held() == 0
