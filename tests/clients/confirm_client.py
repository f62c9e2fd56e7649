"""Create notes on the example server with the official Python MCP SDK, a
person's confirmation played by an elicitation callback: one call whose
confirmation is accepted, one whose confirmation is declined.

usage: confirm_client.py http URL CREDENTIAL MODE
       confirm_client.py stdio MODE COMMAND [ARGS...]   (credential in MCPGEN_TOKEN)
MODE is auto (2026-07-28 when the server speaks it) or legacy (2025-11-25).
Prints one JSON object: the protocol, the questions asked, both results and
the notes found afterwards.
"""
import asyncio
import json
import os
import sys

import httpx2
from mcp import Client, StdioServerParameters, types
from mcp.client.streamable_http import streamable_http_client

asked = []


def answering(action):
    async def callback(context, params):
        asked.append({"message": params.message,
                      "schema": params.requested_schema})
        if action == "accept":
            return types.ElicitResult(action="accept", content={"confirm": True})
        return types.ElicitResult(action=action)
    return callback


def summary(r):
    return {"isError": r.is_error, "structured": r.structured_content,
            "text": r.content[0].text if r.content else None}


async def run(connect, mode):
    out = {}
    for action, title in [("accept", "Confirmed by Python"), ("decline", "Declined by Python")]:
        async with Client(connect(), mode=mode, elicitation_callback=answering(action)) as client:
            out["protocol"] = client.protocol_version
            r = await client.call_tool("create_text_note", {"title": title, "body": "hello"})
            out[action] = summary(r)
    async with Client(connect(), mode=mode) as client:
        found = await client.call_tool("search_owned_notes", {"query": "by python"})
        out["found"] = sorted(n["title"] for n in found.structured_content["notes"])
    out["asked"] = asked
    print(json.dumps(out, sort_keys=True))


async def main():
    kind = sys.argv[1]
    if kind == "http":
        url, credential, mode = sys.argv[2], sys.argv[3], sys.argv[4]
        headers = {"Authorization": f"Bearer {credential}"}
        async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0, read=300.0)) as http:
            await run(lambda: streamable_http_client(url, http_client=http), mode)
    else:
        mode, command, args = sys.argv[2], sys.argv[3], sys.argv[4:]
        params = StdioServerParameters(command=command, args=args,
                                        env={"MCPGEN_TOKEN": os.environ["MCPGEN_TOKEN"]})
        await run(lambda: params, mode)


asyncio.run(main())
