"""Drive an mcpgen server with the official Python MCP SDK and print what
happened as one JSON object, for tests/real_clients.rs to check.

usage: mcp_client.py http URL MODE [TOKEN]
       mcp_client.py stdio MODE COMMAND [ARGS...]
MODE is auto (probe server/discover, fall back to initialize) or legacy.
"""
import asyncio
import json
import sys

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client


async def exercise(client):
    out = {"protocol": client.protocol_version}
    tools = await client.session.list_tools()
    out["tools"] = sorted(t.name for t in tools.tools)
    r = await client.call_tool("add_numbers", {"a": 2, "b": 3})
    out["add"] = {"structured": r.structured_content, "isError": r.is_error,
                  "text": r.content[0].text}
    r = await client.call_tool("test_error_handling", {})
    out["error_tool"] = {"isError": r.is_error, "text": r.content[0].text}
    r = await client.call_tool("add_numbers", {"a": "two", "b": 3})
    out["bad_args"] = {"isError": r.is_error, "text": r.content[0].text}
    progress = []

    async def on_progress(p, total, message):
        progress.append(p)

    r = await client.call_tool("test_tool_with_progress", {}, progress_callback=on_progress)
    out["progress"] = progress
    try:
        r = await client.call_tool("echo_scoped", {"text": "hi"})
        out["scoped"] = {"isError": r.is_error, "text": r.content[0].text}
    except Exception as e:  # the denial surfaces as an error
        out["scoped"] = {"exception": type(e).__name__, "message": str(e)}
    # Resources and prompts, as an anonymous caller sees them.
    resources = await client.session.list_resources()
    out["resources"] = sorted(str(r.uri) for r in resources.resources)
    templates = await client.session.list_resource_templates()
    out["templates"] = sorted(t.uri_template for t in templates.resource_templates)
    r = await client.session.read_resource("test://template/42/data")
    out["template_read"] = {"uri": str(r.contents[0].uri), "text": r.contents[0].text}
    try:
        await client.session.read_resource("test://scoped-text")
        out["scoped_read"] = "read"
    except Exception as e:
        out["scoped_read"] = str(e)
    prompts = await client.session.list_prompts()
    out["prompts"] = sorted(p.name for p in prompts.prompts)
    g = await client.session.get_prompt("test_prompt_with_arguments", {"arg1": "x", "arg2": "y"})
    out["prompt_text"] = g.messages[0].content.text
    return out


async def main():
    kind = sys.argv[1]
    if kind == "http":
        url, mode = sys.argv[2], sys.argv[3]
        headers = {"Authorization": f"Bearer {sys.argv[4]}"} if len(sys.argv) > 4 else {}
        timeout = httpx2.Timeout(30.0, read=300.0)
        async with httpx2.AsyncClient(headers=headers, timeout=timeout) as http:
            async with Client(streamable_http_client(url, http_client=http), mode=mode) as c:
                out = await exercise(c)
    else:
        mode, command, args = sys.argv[2], sys.argv[3], sys.argv[4:]
        params = StdioServerParameters(command=command, args=args)
        async with Client(params, mode=mode) as c:
            out = await exercise(c)
    print(json.dumps(out, sort_keys=True))


asyncio.run(main())
