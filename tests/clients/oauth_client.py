"""Connect to an mcpgen server with nothing but its URL, through the
official Python MCP SDK's OAuth client (`OAuthClientProvider`): discovery,
registration (Dynamic Client Registration, or a Client ID Metadata
Document), PKCE, the consent page filled in as a person would, tokens,
refresh, and step-up.

usage: oauth_client.py URL ACCESS_KEY dcr
       oauth_client.py URL ACCESS_KEY cimd DOCUMENT_URL

The person types ACCESS_KEY on the sign-in page. At the first consent they
allow reading only (unticking the write scope); creating a note then needs
a step-up, where they allow what is new. Prints one JSON object.
"""
import asyncio
import json
import sys
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlparse

import httpx2
from mcp import Client, types
from mcp.client.auth import oauth2
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata


async def confirm(context, params):
    """The person says yes to the note's confirmation."""
    return types.ElicitResult(action="accept", content={"confirm": True})


REDIRECT = "http://127.0.0.1:9/callback"


class Memory(TokenStorage):
    def __init__(self):
        self.tokens = None
        self.client = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client

    async def set_client_info(self, info):
        self.client = info


class Form(HTMLParser):
    """What a person sees of a page: its inputs, and its text by section."""

    def __init__(self):
        super().__init__()
        self.hidden = {}
        self.checkboxes = []
        self.text = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("type") == "hidden":
            self.hidden[a["name"]] = a.get("value", "")
        if tag == "input" and a.get("type") == "checkbox":
            self.checkboxes.append(a["name"])

    def handle_data(self, data):
        if data.strip():
            self.text.append(data.strip())


def read(page):
    f = Form()
    f.feed(page.text)
    return f


class Person:
    """Opens the authorization URL in a 'browser' (an HTTP client that
    keeps cookies), signs in with the access key, reads the consent page,
    allows, and hands the redirect's parameters to the SDK."""

    def __init__(self, key):
        self.key = key
        self.consents = []
        self.result = None

    async def redirect_handler(self, url):
        async with httpx2.AsyncClient(follow_redirects=False) as browser:
            page = await browser.get(url)
            assert page.status_code == 200, page.text
            form = read(page)
            authorize = url.split("?")[0]
            consent = await browser.post(authorize, data={**form.hidden, "access_key": self.key, "action": "sign_in"})
            assert consent.status_code == 200, consent.text
            form = read(consent)
            text = " ".join(form.text)
            already = text.split("Already allowed")[1] if "Already allowed" in text else ""
            self.consents.append({
                "checkboxes": form.checkboxes,
                "already": [s for s in ["notes:read", "notes:write"] if s in already],
                "signed_in": text.split("Signed in as")[1].split(")")[0].strip() + ")",
            })
            # The first time, the person allows reading only.
            ticked = [c for c in form.checkboxes if len(self.consents) > 1 or c == "grant:notes:read"]
            done = await browser.post(authorize, data={**form.hidden, **{c: "on" for c in ticked}, "action": "approve"})
            assert done.status_code == 303, done.text
            q = parse_qs(urlparse(done.headers["location"]).query)
            self.result = AuthorizationCodeResult(code=q["code"][0], state=q.get("state", [None])[0],
                                                  iss=q.get("iss", [None])[0])

    async def callback_handler(self):
        return self.result


async def main(url, key, mode, document=None):
    person = Person(key)
    metadata = OAuthClientMetadata(
        client_name="Python SDK test client",
        redirect_uris=[REDIRECT],
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
    )
    if document:
        # The document is served on loopback over plain http, which the
        # server fetches only under its test allowance; the SDK accepts
        # https URLs only, so its own URL check is relaxed here.
        oauth2.is_valid_client_metadata_url = lambda _url: True
    auth = OAuthClientProvider(
        server_url=url,
        client_metadata=metadata,
        storage=Memory(),
        redirect_handler=person.redirect_handler,
        callback_handler=person.callback_handler,
        client_metadata_url=document,
    )
    requests = []

    async def seen(request):
        requests.append(f"{request.method} {request.url.path}")

    timeout = httpx2.Timeout(30.0, read=120.0)
    async with httpx2.AsyncClient(auth=auth, timeout=timeout, event_hooks={"request": [seen]}) as http:
        async with Client(streamable_http_client(url, http_client=http),
                          elicitation_callback=confirm) as client:
            tools = await client.session.list_tools()
            found = await client.call_tool("search_owned_notes", {"query": ""})
            created = await client.call_tool("create_text_note", {"title": "Via OAuth", "body": "hello"})
            who = await client.call_tool("verify_access", {})
            # Outlive the access token: the next call refreshes first.
            await asyncio.sleep(4)
            after = await client.call_tool("search_owned_notes", {"query": "oauth"})
            print(json.dumps({
                "tools": sorted(t.name for t in tools.tools),
                "found_error": found.is_error,
                "created": created.structured_content,
                "created_error": created.is_error,
                "who": who.structured_content,
                "after_refresh": after.structured_content,
                "consents": person.consents,
                "client_id": auth.context.client_info.client_id,
                "token_requests": requests.count("POST /oauth/token"),
                "registrations": requests.count("POST /oauth/register"),
            }, sort_keys=True))


asyncio.run(main(*sys.argv[1:]))
