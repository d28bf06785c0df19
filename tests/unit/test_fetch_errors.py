"""Transport errors -> error codes, for errors the local test web cannot provoke on demand."""

from __future__ import annotations

import errno
import ssl

import aiohttp
import pytest
import yarl
from aiohttp.client_reqrep import ConnectionKey
from multidict import CIMultiDict, CIMultiDictProxy

from domainbatch.errors import DomainProcessingError
from domainbatch.fetching.connect import BlockedAddressError, UnresolvedHostError
from domainbatch.fetching.guard import AddressesRefused
from domainbatch.fetching.hops import looks_like_html, origin_url
from domainbatch.fetching.translate import is_connect_failure, translate

KEY = ConnectionKey("example.com", 443, True, True, None, None, None, None)
URL = "https://example.com/"
REQUEST = aiohttp.RequestInfo(yarl.URL(URL), "GET", CIMultiDictProxy(CIMultiDict()), yarl.URL(URL))


def _connector_error(exc: OSError) -> aiohttp.ClientConnectorError:
    return aiohttp.ClientConnectorError(KEY, exc)


@pytest.mark.parametrize(
    ("exc", "code", "transient", "fallback", "fragment"),
    [
        (
            _connector_error(ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed")),
            "connect_error",
            True,
            True,
            "connection refused",
        ),
        (
            _connector_error(OSError(errno.EHOSTUNREACH, "No route to host")),
            "connect_error",
            True,
            True,
            "host unreachable",
        ),
        (
            _connector_error(OSError(errno.ENETUNREACH, "Network is unreachable")),
            "connect_error",
            True,
            True,
            "network unreachable",
        ),
        (aiohttp.ConnectionTimeoutError("timeout"), "timeout", True, True, "connecting"),
        (aiohttp.SocketTimeoutError("timeout"), "timeout", True, False, "read timed out"),
        (TimeoutError(), "timeout", True, False, "timed out"),
        (
            aiohttp.ClientConnectorDNSError(KEY, OSError(-2, "Name or service not known")),
            "dns_error",
            True,
            False,
            "cannot resolve",
        ),
        (
            aiohttp.ClientConnectorSSLError(
                KEY, ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
            ),
            "tls_error",
            False,
            True,
            "handshake",
        ),
        (
            aiohttp.ClientConnectorCertificateError(
                KEY, ssl.SSLCertVerificationError(1, "certificate verify failed")
            ),
            "tls_error",
            False,
            True,
            "certificate",
        ),
        (
            aiohttp.ServerDisconnectedError(),
            "connect_error",
            True,
            False,
            "closed the connection",
        ),
        (
            aiohttp.ClientOSError(errno.ECONNRESET, "Connection reset by peer"),
            "connect_error",
            True,
            False,
            "reset by peer",
        ),
        (
            aiohttp.ClientPayloadError("Response payload is not completed"),
            "connect_error",
            True,
            False,
            "mid-body",
        ),
        (
            aiohttp.ClientResponseError(
                REQUEST,
                (),
                status=400,
                message="Got more than 8190 bytes (70000) when reading Header value is too long.",
            ),
            "too_large",
            False,
            False,
            "exceed the size limit",
        ),
        (
            aiohttp.ClientResponseError(
                REQUEST,
                (),
                status=400,
                message="Invalid HTTP status line",
            ),
            "connect_error",
            False,
            False,
            "invalid HTTP response",
        ),
        (RuntimeError("boom"), "internal", False, False, "unexpected"),
    ],
)
def test_translation(
    exc: BaseException, code: str, transient: bool, fallback: bool, fragment: str
) -> None:
    error = translate(exc, URL)
    assert error.code == code
    assert error.transient is transient
    assert fragment.lower() in error.message.lower()
    assert is_connect_failure(exc) is fallback


def test_socket_factory_refusal_is_blocked_address_even_when_merged() -> None:
    single = _connector_error(BlockedAddressError("refused to connect to 127.0.0.1: loopback"))
    assert translate(single, URL).code == "blocked_address"
    assert translate(single, URL).message == "refused to connect to 127.0.0.1: loopback"
    assert not is_connect_failure(single)  # plain http would meet the same address
    # Happy eyeballs merges several failures into one OSError text.
    merged = _connector_error(
        OSError(
            "Multiple exceptions: [blocked_address] refused to connect to ::1: loopback, "
            "[blocked_address] refused to connect to 127.0.0.1: loopback"
        )
    )
    error = translate(merged, URL)
    assert error.code == "blocked_address"
    assert error.message == "refused to connect to ::1: loopback"


def test_resolver_failures_come_back_as_the_documented_error() -> None:
    refused = AddressesRefused("x.example", [("10.0.0.1", "private (RFC 1918)")])
    nxdomain = DomainProcessingError("dns_nxdomain", "x.example does not exist (NXDOMAIN)")
    for error in (refused, nxdomain):
        wrapped = aiohttp.ClientConnectorDNSError(KEY, UnresolvedHostError(error))
        assert translate(wrapped, URL) is error
        assert not is_connect_failure(wrapped)  # plain http would meet the same answer
    # A webhook delivery records the OSError's text: every refused address with its reason.
    assert str(UnresolvedHostError(refused)) == (
        "x.example resolves only to refused addresses (10.0.0.1: private (RFC 1918))"
    )
    assert str(UnresolvedHostError(nxdomain)) == nxdomain.message


def test_domain_errors_pass_through() -> None:
    original = DomainProcessingError("too_large", "big")
    assert translate(original, URL) is original


def test_origin_url_omits_default_ports() -> None:
    assert str(origin_url("https", "example.com", 443)) == "https://example.com/"
    assert str(origin_url("http", "example.com", 80)) == "http://example.com/"
    assert str(origin_url("https", "example.com", 8443)) == "https://example.com:8443/"
    with pytest.raises(DomainProcessingError) as info:
        origin_url("https", "bad host/", 443)
    assert info.value.code == "invalid_domain"


@pytest.mark.parametrize(
    ("body", "html"),
    [
        (b"<!DOCTYPE html><html></html>", True),
        (b"\xef\xbb\xbf  <html lang=en>", True),
        (b"<?xml version='1.0'?><html>", True),
        (b"\n<head><title>x</title>", True),
        (b"\x89PNG\r\n\x1a\n", False),
        (b'{"json": true}', False),
        (b"", False),
    ],
)
def test_html_sniffing(body: bytes, html: bool) -> None:
    assert looks_like_html(body) is html
