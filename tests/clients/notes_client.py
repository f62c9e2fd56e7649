"""List and call the example notes server's tools with the official Python
MCP SDK, authenticated with an access key or bearer token.

usage: notes_client.py URL CREDENTIAL
Creating a note asks for a person's confirmation: the question is shown on
stderr and answered with a line on stdin (y: yes). Prints one JSON object:
the tools, the created note, and a search for it.
"""
import asyncio
import json
import sys

import httpx2
from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client


async def ask_the_person(context, params):
    """The client's elicitation callback: the server's question, answered
    by whoever is at the terminal."""
    print(f"{params.message} [y/N] ", end="", file=sys.stderr, flush=True)
    answer = await asyncio.to_thread(sys.stdin.readline)
    if answer.strip().lower() in ("y", "yes"):
        return types.ElicitResult(action="accept", content={"confirm": True})
    return types.ElicitResult(action="decline")


async def main(url, credential):
    headers = {"Authorization": f"Bearer {credential}"}
    timeout = httpx2.Timeout(30.0, read=300.0)
    async with httpx2.AsyncClient(headers=headers, timeout=timeout) as http:
        async with Client(streamable_http_client(url, http_client=http),
                          elicitation_callback=ask_the_person) as client:
            tools = await client.session.list_tools()
            created = await client.call_tool(
                "create_text_note", {"title": "From Python", "body": "hello"})
            found = await client.call_tool("search_owned_notes", {"query": "python"})
            who = await client.call_tool("verify_access", {})
            print(json.dumps({
                "protocol": client.protocol_version,
                "tools": sorted(t.name for t in tools.tools),
                "created": created.structured_content,
                "found": found.structured_content,
                "who": who.structured_content,
            }, sort_keys=True))


asyncio.run(main(sys.argv[1], sys.argv[2]))
