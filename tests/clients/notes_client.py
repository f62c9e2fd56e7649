"""List and call the example notes server's tools with the official Python
MCP SDK, authenticated with an access key or bearer token.

usage: notes_client.py URL CREDENTIAL
Prints one JSON object: the tools, the created note, and a search for it.
"""
import asyncio
import json
import sys

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


async def main(url, credential):
    headers = {"Authorization": f"Bearer {credential}"}
    timeout = httpx2.Timeout(30.0, read=300.0)
    async with httpx2.AsyncClient(headers=headers, timeout=timeout) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
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
