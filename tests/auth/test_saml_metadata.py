"""SAML metadata (CreateSAMLProvider) and signed responses (AssumeRoleWithSAML).

Signatures are made two ways: by a small signer in this file (built on the module's own
canonicalization, to exercise every check around it) and, when installed, by ``xmlsec1`` (an
independent XMLDSig implementation) in both directions, which is what shows the canonicalization
is right.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ironkeep.auth import saml_metadata as sm
from ironkeep.auth.saml_metadata import (
    ExpiredTokenException,
    IDPRejectedClaim,
    InvalidIdentityToken,
    XmlError,
)
from ironkeep.errors import AWSError, InvalidInput, ValidationError

NOW = datetime(2026, 11, 29, 8, 0, 0, tzinfo=UTC)
ROLE = "arn:aws:iam::123456789012:role/Admin"
PROVIDER = "arn:aws:iam::123456789012:saml-provider/Okta"
ATTR = "https://aws.amazon.com/SAML/Attributes/"
HAS_XMLSEC = shutil.which("xmlsec1") is not None
needs_xmlsec = pytest.mark.skipif(not HAS_XMLSEC, reason="xmlsec1 (apt xmlsec1) is not installed")


def make_identity(key) -> tuple[object, x509.Certificate]:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idp.example.com")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return key, cert


RSA_KEY, RSA_CERT = make_identity(rsa.generate_private_key(public_exponent=65537, key_size=2048))
EC_KEY, EC_CERT = make_identity(ec.generate_private_key(ec.SECP256R1()))
OTHER_KEY, OTHER_CERT = make_identity(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def cert_b64(cert: x509.Certificate) -> str:
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


# -- metadata --------------------------------------------------------------------------------------------


def metadata(
    certs=(RSA_CERT,),
    *,
    use: str | None = "signing",
    valid_until: str | None = "2027-01-01T00:00:00Z",
    protocols: str = "urn:oasis:names:tc:SAML:2.0:protocol",
    role: str = "IDPSSODescriptor",
    wrap: bool = False,
) -> str:
    keys = "".join(
        f"<md:KeyDescriptor{' use=' + quoteattr(use) if use else ''}><ds:KeyInfo><ds:X509Data>"
        f"<ds:X509Certificate>\n{cert_b64(c)}\n</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        for c in certs
    )
    until = f' validUntil="{valid_until}"' if valid_until else ""
    entity = (
        f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        f'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="http://www.okta.com/exk1"{until}>'
        f'<md:{role} WantAuthnRequestsSigned="false" protocolSupportEnumeration="{protocols}">{keys}'
        "<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified</md:NameIDFormat>"
        '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
        'Location="https://example.okta.com/app/sso/saml"/>'
        f"</md:{role}></md:EntityDescriptor>"
    )
    if wrap:
        entity = f'<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">{entity}</md:EntitiesDescriptor>'
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + entity


def test_metadata_gives_entity_certificates_and_valid_until() -> None:
    parsed = sm.parse_metadata(metadata((RSA_CERT, EC_CERT)))
    assert parsed.entity_id == "http://www.okta.com/exk1"
    assert parsed.signing_certificates == (RSA_CERT, EC_CERT)
    assert parsed.valid_until == datetime(2027, 1, 1, tzinfo=UTC)
    assert sm.parse_metadata(metadata(valid_until=None)).valid_until is None
    assert sm.parse_metadata(metadata(use=None)).signing_certificates == (RSA_CERT,)
    assert sm.parse_metadata(metadata(wrap=True)).entity_id == "http://www.okta.com/exk1"
    odd = sm.parse_metadata(metadata(valid_until="2027-01-01T01:00:00.1234567+01:00"))
    assert odd.valid_until == datetime(2027, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    "document",
    [
        metadata(use="encryption"),
        metadata(()),
        metadata(role="SPSSODescriptor"),
        metadata(protocols="urn:oasis:names:tc:SAML:1.1:protocol"),
        metadata(valid_until="next tuesday"),
        metadata().replace(cert_b64(RSA_CERT), "not-base64!"),
        metadata().replace(cert_b64(RSA_CERT), base64.b64encode(b"x" * 300).decode()),
        metadata().replace('entityID="http://www.okta.com/exk1"', ""),
        metadata().replace("urn:oasis:names:tc:SAML:2.0:metadata", "urn:example:other"),
        metadata().replace("</md:EntityDescriptor>", ""),
        metadata().replace("<md:", "<x:"),  # unbound prefix
        "<html>" + "x" * 2000 + "</html>",
        "not xml at all " * 100,
    ],
    ids=[
        "encryption-only",
        "no-certificate",
        "sp-metadata",
        "saml1",
        "bad-validUntil",
        "bad-base64",
        "not-a-certificate",
        "no-entityID",
        "wrong-namespace",
        "not-well-formed",
        "unbound-prefix",
        "html",
        "text",
    ],
)
def test_unusable_metadata_is_invalid_input(document: str) -> None:
    with pytest.raises(InvalidInput) as err:
        sm.parse_metadata(document.ljust(1000))
    assert (err.value.code, err.value.status, err.value.message) == (
        "InvalidInput",
        400,
        "Could not parse metadata",
    )


def test_dtds_and_entities_are_refused_quickly() -> None:
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE md [<!ENTITY a "aaaaaaaaaa">'
        + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
        + "]>"
    )
    bomb = (
        metadata()
        .replace('<?xml version="1.0" encoding="UTF-8"?>\n', laughs)
        .replace("</md:EntityDescriptor>", "<md:Extensions>&j;</md:Extensions></md:EntityDescriptor>")
    )
    external = (
        metadata()
        .replace(
            '<?xml version="1.0" encoding="UTF-8"?>\n',
            '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
        )
        .replace("</md:EntityDescriptor>", "<md:Extensions>&e;</md:Extensions></md:EntityDescriptor>")
    )
    doctype_only = metadata().replace('<?xml version="1.0" encoding="UTF-8"?>\n', "<!DOCTYPE md>")
    for document in (bomb, external, doctype_only):
        start = time.perf_counter()
        with pytest.raises(InvalidInput):
            sm.parse_metadata(document)
        assert time.perf_counter() - start < 1
    with pytest.raises(XmlError):
        sm.parse_xml("<a>&undefined;</a>")


def test_metadata_length_limits_are_validation_errors() -> None:
    with pytest.raises(ValidationError, match="greater than or equal to 1000"):
        sm.parse_metadata("<a/>")
    with pytest.raises(ValidationError, match="less than or equal to 10000000"):
        sm.parse_metadata(metadata() + " " * 10_000_000)


@settings(max_examples=60)
@given(st.text(min_size=1, max_size=300))
def test_arbitrary_metadata_fails_only_with_aws_errors(text: str) -> None:
    with pytest.raises(AWSError) as err:
        sm.parse_metadata(text.ljust(1000))
    assert err.value.code == "InvalidInput"


# -- canonicalization known answers (from the C14N 1.0 / Exclusive C14N rules) -----------------------------


def c14n(xml: str, path: tuple[int, ...] = (), **kw) -> str:
    element = sm.parse_xml(xml)
    for index in path:
        element = [c for c in element.children if isinstance(c, sm.Element)][index]
    return sm.canonicalize(element, **kw).decode()


def test_c14n_namespaces_exclusive_versus_inclusive() -> None:
    doc = '<r xmlns:b="urn:b" xmlns:z="urn:z" xmlns="urn:d"><b:y a="1"><c/></b:y></r>'
    assert c14n(doc, (0,)) == '<b:y xmlns:b="urn:b" a="1"><c xmlns="urn:d"></c></b:y>'
    assert c14n(doc, (0,), exclusive=False) == (
        '<b:y xmlns="urn:d" xmlns:b="urn:b" xmlns:z="urn:z" a="1"><c></c></b:y>'
    )
    assert c14n(doc, (0,), inclusive_prefixes=["z"]) == (
        '<b:y xmlns:b="urn:b" xmlns:z="urn:z" a="1"><c xmlns="urn:d"></c></b:y>'
    )
    assert c14n(doc, (0,), inclusive_prefixes=["#default", "nope"]) == (
        '<b:y xmlns="urn:d" xmlns:b="urn:b" a="1"><c></c></b:y>'
    )
    assert c14n(doc) == '<r xmlns="urn:d"><b:y xmlns:b="urn:b" a="1"><c></c></b:y></r>'


def test_c14n_default_namespace_undeclaration_and_redundant_declarations() -> None:
    doc = '<a xmlns="urn:a"><b xmlns=""><c xmlns="urn:a"/></b><d xmlns="urn:a"/></a>'
    assert c14n(doc) == '<a xmlns="urn:a"><b xmlns=""><c xmlns="urn:a"></c></b><d></d></a>'
    assert c14n(doc, exclusive=False) == c14n(doc)
    assert c14n(doc, (0,)) == '<b><c xmlns="urn:a"></c></b>'


def test_c14n_attribute_order_and_escaping() -> None:
    doc = (
        '<e b="1" a="2" z:c="3" xmlns:z="urn:z" y:a="4" xmlns:y="urn:y" t="&#9;x&#10;y&#13;" '
        'q=\'say "hi" &amp; &lt;bye>\' n="line\nbreak">'
        "5 &gt; 3 &amp;&amp; 2 &lt; 4 &#13; <![CDATA[<raw> & ]]>\u00e9</e>"
    )
    assert c14n(doc) == (
        '<e xmlns:y="urn:y" xmlns:z="urn:z" a="2" b="1" n="line break" '
        'q="say &quot;hi&quot; &amp; &lt;bye>" t="&#x9;x&#xA;y&#xD;" y:a="4" z:c="3">'
        "5 &gt; 3 &amp;&amp; 2 &lt; 4 &#xD; &lt;raw&gt; &amp; \u00e9</e>"
    )


def test_c14n_comments_pis_empty_elements_and_exclusion() -> None:
    doc = "<a><!-- note --><?app do it?><b/><s><x/></s>\n</a>"
    assert c14n(doc) == "<a><?app do it?><b></b><s><x></x></s>\n</a>"
    assert c14n(doc, with_comments=True) == "<a><!-- note --><?app do it?><b></b><s><x></x></s>\n</a>"
    root = sm.parse_xml(doc)
    skip = root.elements("", "s")[0]
    assert sm.canonicalize(root, exclude=skip).decode() == "<a><?app do it?><b></b>\n</a>"


def test_c14n_inclusive_subset_inherits_xml_attributes() -> None:
    doc = '<a xml:lang="fr" xml:space="preserve"><b xml:lang="en"><c/></b></a>'
    assert c14n(doc, (0,), exclusive=False) == '<b xml:lang="en" xml:space="preserve"><c></c></b>'
    assert c14n(doc, (0,)) == '<b xml:lang="en"><c></c></b>'


@pytest.mark.parametrize(
    "xml",
    [
        b'<?xml version="1.0" encoding="ATF-8"?><a/>',
        b'<?xml version="1.0" encoding="UTF-8"?><a>\xff</a>',
        "",
        "<a>",
        "<a></b>",
        "<a x='1' x='2'/>",
        "<p:a/>",
        "<a xmlns:p=''/>",
        "<a xmlns:xmlns='u'/>",
        "<a/><b/>",
    ],
)
def test_malformed_xml(xml: str | bytes) -> None:
    with pytest.raises(XmlError):
        sm.parse_xml(xml)


def test_deep_nesting_is_refused() -> None:
    sm.parse_xml("<a>" * sm.MAX_DEPTH + "</a>" * sm.MAX_DEPTH)
    with pytest.raises(XmlError, match="too deeply"):
        sm.parse_xml("<a>" * (sm.MAX_DEPTH + 1) + "</a>" * (sm.MAX_DEPTH + 1))
    deep = "<a>" * 20_000 + "</a>" * 20_000
    with pytest.raises(InvalidIdentityToken):
        sm.verify_saml_response(base64.b64encode(deep.encode()).decode(), [RSA_CERT], NOW)


def test_duplicate_attributes_by_namespace_are_malformed() -> None:
    with pytest.raises(XmlError):
        sm.parse_xml('<a xmlns:p="urn:x" xmlns:q="urn:x" p:k="1" q:k="2"/>')


# -- responses -------------------------------------------------------------------------------------------

RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"


def signature_template(
    ref: str, *, method=RSA_SHA256, digest=SHA256, c14n_alg=sm.EXC_C14N, prefixes="xs", info_prefixes=""
) -> str:
    def inclusive(names: str) -> str:
        exclusive = c14n_alg.startswith(sm.EXC_C14N)
        return (
            f'<ec:InclusiveNamespaces xmlns:ec="{sm.EXC_C14N}" PrefixList="{names}"/>'
            if exclusive and names
            else ""
        )

    return (
        '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
        f'<ds:CanonicalizationMethod Algorithm="{c14n_alg}">{inclusive(info_prefixes)}</ds:CanonicalizationMethod>'
        f'<ds:SignatureMethod Algorithm="{method}"/>'
        f'<ds:Reference URI="#{ref}"><ds:Transforms>'
        f'<ds:Transform Algorithm="{sm.ENVELOPED}"/><ds:Transform Algorithm="{c14n_alg}">{inclusive(prefixes)}</ds:Transform>'
        f'</ds:Transforms><ds:DigestMethod Algorithm="{digest}"/><ds:DigestValue></ds:DigestValue></ds:Reference>'
        "</ds:SignedInfo>\n<ds:SignatureValue></ds:SignatureValue></ds:Signature>"
    )


@dataclass
class Claims:
    name_id: str = "alice@example.com"
    session_name: str = "alice@example.com"
    roles: tuple[str, ...] = (f"{ROLE},{PROVIDER}",)
    extra_attributes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    issued: datetime = NOW
    lifetime: timedelta = timedelta(minutes=5)
    audience: str = "urn:amazon:webservices"
    recipient: str = "https://signin.aws.amazon.com/saml"
    status: str = "urn:oasis:names:tc:SAML:2.0:status:Success"
    sign_assertion: bool = True
    sign_response: bool = False
    assertion_id: str = "_a1b2c3"
    extra_text: str = ""


def response_xml(c: Claims, **sig) -> str:
    def attribute(name: str, values: tuple[str, ...]) -> str:
        vals = "".join(
            f'<saml:AttributeValue xsi:type="xs:string">{escape(v)}</saml:AttributeValue>' for v in values
        )
        return f"<saml:Attribute Name={quoteattr(name)}>{vals}</saml:Attribute>"

    attributes = [attribute(ATTR + "Role", c.roles), attribute(ATTR + "RoleSessionName", (c.session_name,))]
    attributes += [attribute(n, v) for n, v in c.extra_attributes]
    until = iso(c.issued + c.lifetime)
    assertion = (
        '<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
        'xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'ID="{c.assertion_id}" Version="2.0" IssueInstant="{iso(c.issued)}">\n'
        "  <saml:Issuer>http://www.okta.com/exk1</saml:Issuer>\n"
        + (signature_template(c.assertion_id, **sig) if c.sign_assertion else "")
        + '<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">'
        f"{escape(c.name_id)}</saml:NameID>"
        '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
        f'<saml:SubjectConfirmationData NotOnOrAfter="{until}" Recipient="{c.recipient}"/>'
        "</saml:SubjectConfirmation></saml:Subject>\n"
        f'<saml:Conditions NotBefore="{iso(c.issued - timedelta(seconds=30))}" NotOnOrAfter="{until}">'
        f"<saml:AudienceRestriction><saml:Audience>{c.audience}</saml:Audience></saml:AudienceRestriction>"
        "</saml:Conditions>"
        f'<saml:AuthnStatement AuthnInstant="{iso(c.issued)}" SessionNotOnOrAfter="{iso(c.issued + timedelta(hours=8))}">'
        "<saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:"
        "PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>"
        f"<saml:AttributeStatement>{''.join(attributes)}</saml:AttributeStatement>{c.extra_text}"
        "</saml:Assertion>"
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        f'ID="_resp1" Version="2.0" IssueInstant="{iso(c.issued)}" Destination="{c.recipient}">'
        '<saml2:Issuer xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion">http://www.okta.com/exk1</saml2:Issuer>'
        + (signature_template("_resp1", **sig) if c.sign_response else "")
        + f'<samlp:Status><samlp:StatusCode Value="{c.status}"/></samlp:Status>\n  {assertion}\n</samlp:Response>\n'
    )


def own_sign(xml: str, key) -> str:
    """Fill every empty signature template, innermost (the assertion's) first."""
    for local in ("Assertion", "Response"):
        root = sm.parse_xml(xml)
        target = next(e for e in root.iter() if e.local == local)
        signatures = target.elements(sm.DSIG, "Signature")
        if not signatures:
            continue
        signature = signatures[0]
        ref = signature.elements(sm.DSIG, "SignedInfo")[0].elements(sm.DSIG, "Reference")[0]
        transform = ref.elements(sm.DSIG, "Transforms")[0].elements(sm.DSIG, "Transform")[-1]
        exclusive = transform.get("Algorithm").startswith(sm.EXC_C14N)
        prefixes = [
            p
            for i in transform.elements(sm.EXC_C14N, "InclusiveNamespaces")
            for p in i.get("PrefixList").split()
        ]
        content = sm.canonicalize(target, exclusive=exclusive, inclusive_prefixes=prefixes, exclude=signature)
        digest = base64.b64encode(hashlib.sha256(content).digest()).decode()
        xml = xml.replace(f'URI="#{target.get("ID")}">', "\0", 1)
        head, tail = xml.split("\0", 1)
        tail = tail.replace(
            "<ds:DigestValue></ds:DigestValue>", f"<ds:DigestValue>{digest}</ds:DigestValue>", 1
        )
        xml = head + f'URI="#{target.get("ID")}">' + tail
        root = sm.parse_xml(xml)
        target = next(e for e in root.iter() if e.local == local)
        signed_info = target.elements(sm.DSIG, "Signature")[0].elements(sm.DSIG, "SignedInfo")[0]
        method = signed_info.elements(sm.DSIG, "CanonicalizationMethod")[0]
        mprefixes = [
            p
            for i in method.elements(sm.EXC_C14N, "InclusiveNamespaces")
            for p in i.get("PrefixList").split()
        ]
        data = sm.canonicalize(
            signed_info,
            exclusive=method.get("Algorithm").startswith(sm.EXC_C14N),
            inclusive_prefixes=mprefixes,
        )
        if isinstance(key, rsa.RSAPrivateKey):
            value = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        else:
            r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
            value = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        marker = f'URI="#{target.get("ID")}">'
        head, tail = xml.split(marker, 1)
        tail = tail.replace(
            "<ds:SignatureValue></ds:SignatureValue>",
            f"<ds:SignatureValue>{base64.encodebytes(value).decode()}</ds:SignatureValue>",
            1,
        )
        xml = head + marker + tail
    return xml


def b64(xml: str) -> str:
    return base64.b64encode(xml.encode()).decode()


def signed(c: Claims | None = None, key=RSA_KEY, **sig) -> str:
    c = c or Claims()
    if key is EC_KEY:
        sig.setdefault("method", ECDSA_SHA256)
    return own_sign(response_xml(c, **sig), key)


def verify(xml: str, certs=(RSA_CERT,), now: datetime = NOW) -> sm.SamlAssertion:
    return sm.verify_saml_response(b64(xml), list(certs), now)


def test_signed_assertion_is_read() -> None:
    extra = (
        (ATTR + "SessionDuration", ("7200",)),
        (ATTR + "SourceIdentity", ("alice",)),
        (ATTR + "PrincipalTag:Department", ("Engineering",)),
        (ATTR + "PrincipalTag:Multi", ("a", "b")),
        (ATTR + "TransitiveTagKeys", ("Department",)),
        ("urn:oid:1.3.6.1.4.1.5923.1.1.1.1", ("member", "staff")),
    )
    roles = (
        f"{ROLE},{PROVIDER}",
        f"{PROVIDER} , arn:aws:iam::123456789012:role/ReadOnly",
        "garbage",
        f"{ROLE}",
    )
    a = verify(signed(Claims(extra_attributes=extra, roles=roles, name_id="Alice <&> O'Neil")))
    assert a.issuer == "http://www.okta.com/exk1"
    assert (a.subject, a.subject_type) == ("Alice <&> O'Neil", "persistent")
    assert a.roles == ((ROLE, PROVIDER), ("arn:aws:iam::123456789012:role/ReadOnly", PROVIDER))
    assert a.role_session_name == "alice@example.com"
    assert a.session_duration == 7200
    assert a.source_identity == "alice"
    assert a.principal_tags == (("Department", "Engineering"),)
    assert a.transitive_tag_keys == ("Department",)
    assert a.attributes["urn:oid:1.3.6.1.4.1.5923.1.1.1.1"] == ("member", "staff")
    assert a.audiences == ("urn:amazon:webservices",)
    assert a.recipient == "https://signin.aws.amazon.com/saml"
    assert a.not_on_or_after == NOW + timedelta(minutes=5)
    assert a.session_not_on_or_after == NOW + timedelta(hours=8)
    assert a.issue_instant == NOW


@pytest.mark.parametrize(
    ("assertion", "response"),
    [(True, False), (False, True), (True, True)],
    ids=["assertion", "response", "both"],
)
def test_either_signature_placement_is_accepted(assertion: bool, response: bool) -> None:
    xml = signed(Claims(sign_assertion=assertion, sign_response=response))
    assert verify(xml).role_session_name == "alice@example.com"


@pytest.mark.parametrize("alg", [sm.EXC_C14N, sm.C14N, sm.EXC_C14N_COMMENTS, sm.C14N_COMMENTS])
def test_canonicalization_methods(alg: str) -> None:
    xml = signed(Claims(extra_text="<!-- comment -->"), c14n_alg=alg)
    assert verify(xml).subject == "alice@example.com"


def test_ecdsa_signature_and_certificate_choice() -> None:
    xml = signed(key=EC_KEY)
    assert verify(xml, certs=(OTHER_CERT, EC_CERT)).subject == "alice@example.com"
    with pytest.raises(InvalidIdentityToken, match="Response signature invalid"):
        verify(xml, certs=(RSA_CERT, OTHER_CERT))


def assert_signature_invalid(xml: str, certs=(RSA_CERT,)) -> None:
    with pytest.raises(InvalidIdentityToken) as err:
        verify(xml, certs)
    assert (err.value.code, err.value.status, err.value.message) == (
        "InvalidIdentityToken",
        400,
        "Response signature invalid",
    )


def assert_rejected(xml: str) -> None:
    with pytest.raises(InvalidIdentityToken):
        verify(xml)


def test_wrong_certificate_or_no_signature() -> None:
    assert_signature_invalid(signed(), certs=(OTHER_CERT,))
    assert_signature_invalid(response_xml(Claims(sign_assertion=False)))
    assert_signature_invalid(response_xml(Claims()))  # empty template: nothing to verify


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (">alice@example.com</saml:NameID>", ">admin@example.com</saml:NameID>"),
        ("role/Admin", "role/Admin2"),
        ('Recipient="https://signin', 'Recipient="http://signin'),
        ("<saml:AttributeStatement>", "<saml:AttributeStatement><saml:Attribute Name='x'/>"),
        ("<ds:SignatureValue>", "<ds:SignatureValue>AAAA"),
        (sm.ENVELOPED, "http://www.w3.org/TR/1999/REC-xpath-19991116"),
        ("xmlenc#sha256", "xmlenc#sha3"),
        ("rsa-sha256", "hmac-sha256"),
    ],
)
def test_tampering_is_detected(old: str, new: str) -> None:
    xml = signed()
    assert old in xml
    assert_signature_invalid(xml.replace(old, new, 1))


def test_a_signed_response_does_not_cover_a_tampered_assertion() -> None:
    xml = signed(Claims(sign_assertion=False, sign_response=True))
    assert_signature_invalid(xml.replace("role/Admin", "role/Root"))


def test_comment_injection_in_name_id_is_read_as_signed() -> None:
    # Exclusive C14N drops comments, so the signature still verifies; the NameID must be read whole.
    xml = signed(Claims(name_id="user@example.com.evil.com"))
    xml = xml.replace("user@example.com.evil.com", "user@example.com<!---->.evil.com")
    assert verify(xml).subject == "user@example.com.evil.com"


def test_signature_wrapping_attacks() -> None:
    good = signed()
    original = good[
        good.index("<saml:Assertion") : good.index("</saml:Assertion>") + len("</saml:Assertion>")
    ]
    evil = original.replace("role/Admin", "role/Root").replace('ID="_a1b2c3"', 'ID="_evil"')
    # A second assertion beside the signed one.
    assert_rejected(good.replace(original, evil + original))
    # The signed assertion hidden in an extension, an unsigned one in its place.
    hidden = good.replace(original, evil).replace(
        "<samlp:Status>", f"<samlp:Extensions>{original}</samlp:Extensions><samlp:Status>"
    )
    assert_rejected(hidden)
    # Same ID used twice.
    twin = good.replace("<samlp:Status>", '<samlp:Extensions ID="_a1b2c3"/><samlp:Status>')
    assert_rejected(twin)
    # The signature points at another element.
    elsewhere = signed(Claims(assertion_id="_other"))
    assert_rejected(elsewhere.replace('ID="_other"', 'ID="_a1b2c3"', 1))


def test_encrypted_assertion_is_refused() -> None:
    xml = response_xml(Claims()).replace("saml:Assertion", "saml:EncryptedAssertion")
    with pytest.raises(InvalidIdentityToken, match="encrypted"):
        verify(xml)


def test_times() -> None:
    xml = signed()
    verify(xml, now=NOW + timedelta(minutes=4, seconds=59))
    for late in (NOW + timedelta(minutes=5), NOW + timedelta(hours=1)):
        with pytest.raises(ExpiredTokenException) as err:
            verify(xml, now=late)
        assert (err.value.code, err.value.status) == ("ExpiredTokenException", 400)
        assert err.value.message == "Token must be redeemed within 5 minutes of issuance"
    long_lived = signed(Claims(lifetime=timedelta(hours=1)))
    verify(long_lived, now=NOW + timedelta(minutes=9))
    with pytest.raises(ExpiredTokenException):
        verify(long_lived, now=NOW + timedelta(minutes=11))
    with pytest.raises(InvalidIdentityToken, match="not yet valid"):
        verify(xml, now=NOW - timedelta(minutes=6))
    verify(xml, now=NOW - timedelta(minutes=4))


def test_audience_and_recipient() -> None:
    with pytest.raises(InvalidIdentityToken, match="audience"):
        verify(signed(Claims(audience="urn:example:other")))
    with pytest.raises(InvalidIdentityToken, match="recipient"):
        verify(signed(Claims(recipient="https://evil.example.com/saml")))
    xml = signed(Claims(recipient="https://ironkeep.example.com/saml"))
    assertion = sm.verify_saml_response(
        b64(xml), [RSA_CERT], NOW, recipient="https://ironkeep.example.com/saml"
    )
    assert assertion.recipient == "https://ironkeep.example.com/saml"


def test_idp_failure_status_is_idp_rejected_claim() -> None:
    with pytest.raises(IDPRejectedClaim) as err:
        verify(signed(Claims(status="urn:oasis:names:tc:SAML:2.0:status:Responder")))
    assert (err.value.code, err.value.status) == ("IDPRejectedClaim", 403)


@pytest.mark.parametrize("name", ["a", "x" * 65, "has space", "ünï"])
def test_role_session_name_rule(name: str) -> None:
    with pytest.raises(InvalidIdentityToken) as err:
        verify(signed(Claims(session_name=name)))
    assert err.value.message == "RoleSessionName in AuthnResponse must match [a-zA-Z_0-9+=,.@-]{2,64}"


@pytest.mark.parametrize("value", ["899", "43201", "1h", "3600.0", ""])
def test_session_duration_range(value: str) -> None:
    with pytest.raises(InvalidIdentityToken, match="SessionDuration"):
        verify(signed(Claims(extra_attributes=((ATTR + "SessionDuration", (value,)),))))


@pytest.mark.parametrize(
    "payload",
    [
        "not base64!",
        base64.b64encode(b"not xml").decode(),
        base64.b64encode(b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "b">]><r/>').decode(),
        base64.b64encode(b"<samlp:Response xmlns:samlp='urn:example'/>").decode(),
        "A" * 100_001,
    ],
)
def test_undecodable_responses(payload: str) -> None:
    with pytest.raises(InvalidIdentityToken):
        sm.verify_saml_response(payload, [RSA_CERT], NOW)


@settings(max_examples=50, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_arbitrary_payloads_fail_only_with_aws_errors(raw: bytes) -> None:
    with pytest.raises(AWSError):
        sm.verify_saml_response(base64.b64encode(raw).decode(), [RSA_CERT], NOW)


_GOOD = signed()


@settings(max_examples=80, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=len(_GOOD) - 1), st.characters(codec="ascii"))
def test_single_character_edits_never_verify_a_changed_claim(position: int, char: str) -> None:
    edited = _GOOD[:position] + char + _GOOD[position + 1 :]
    try:
        assertion = verify(edited)
    except AWSError:
        return
    # Edits that survive must be invisible to canonicalization (whitespace in the signature, etc.).
    assert assertion == verify(_GOOD)


def test_name_qualifier() -> None:
    expected = base64.b64encode(hashlib.sha1(b"http://www.okta.com/exk1123456789012/Okta").digest()).decode()
    assert sm.name_qualifier("http://www.okta.com/exk1", "123456789012", "Okta") == expected


# -- interoperability with xmlsec1 -------------------------------------------------------------------------


def xmlsec(args: list[str], tmp: Path, xml: str) -> subprocess.CompletedProcess[str]:
    (tmp / "in.xml").write_text(xml)
    return subprocess.run(["xmlsec1", *args, str(tmp / "in.xml")], capture_output=True, text=True, timeout=30)


def write_keys(tmp: Path, key, cert: x509.Certificate) -> tuple[Path, Path]:
    k, c = tmp / "key.pem", tmp / "cert.pem"
    k.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    c.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return k, c


ID_ATTRS = [
    "--id-attr:ID",
    "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
    "--id-attr:ID",
    "urn:oasis:names:tc:SAML:2.0:protocol:Response",
]


def xmlsec_sign(xml: str, key, cert: x509.Certificate, tmp: Path) -> str:
    k, c = write_keys(tmp, key, cert)
    out = tmp / "out.xml"
    result = xmlsec(["--sign", "--privkey-pem", f"{k},{c}", *ID_ATTRS, "--output", str(out)], tmp, xml)
    assert result.returncode == 0, result.stderr
    return out.read_text()


def xmlsec_verifies(xml: str, cert: x509.Certificate, tmp: Path) -> bool:
    _, c = write_keys(tmp, RSA_KEY, cert)
    return xmlsec(["--verify", "--pubkey-cert-pem", str(c), *ID_ATTRS], tmp, xml).returncode == 0


@needs_xmlsec
@pytest.mark.parametrize("alg", [sm.EXC_C14N, sm.C14N, sm.C14N_COMMENTS])
@pytest.mark.parametrize("placement", ["assertion", "response"])
def test_xmlsec1_signatures_verify(alg: str, placement: str, tmp_path: Path) -> None:
    c = Claims(
        sign_assertion=placement == "assertion", sign_response=placement == "response", extra_text="<!--c-->"
    )
    xml = xmlsec_sign(response_xml(c, c14n_alg=alg), RSA_KEY, RSA_CERT, tmp_path)
    assert verify(xml).subject == "alice@example.com"
    assert_signature_invalid(xml.replace("role/Admin", "role/Root"))


@needs_xmlsec
def test_xmlsec1_ecdsa_signature_verifies(tmp_path: Path) -> None:
    xml = xmlsec_sign(response_xml(Claims(), method=ECDSA_SHA256), EC_KEY, EC_CERT, tmp_path)
    assert verify(xml, certs=(EC_CERT,)).subject == "alice@example.com"


@needs_xmlsec
@pytest.mark.parametrize("alg", [sm.EXC_C14N, sm.C14N])
def test_own_signatures_verify_with_xmlsec1(alg: str, tmp_path: Path) -> None:
    xml = signed(Claims(sign_response=True, extra_text="<!--c-->"), c14n_alg=alg)
    assert xmlsec_verifies(xml, RSA_CERT, tmp_path)
    assert not xmlsec_verifies(xml.replace("role/Admin", "role/Root"), RSA_CERT, tmp_path)


_texts = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")) | st.sampled_from("\t\n\r&<>\"'"),
    max_size=30,
)


@needs_xmlsec
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=_texts.filter(lambda s: s.strip() == s and "\r" not in s),
    value=_texts,
    text=_texts,
    alg=st.sampled_from([sm.EXC_C14N, sm.C14N]),
    prefixes=st.sampled_from(["", "xs", "xs xsi #default"]),
    info_prefixes=st.sampled_from(["", "saml", "#default xs"]),
)
def test_canonicalization_agrees_with_xmlsec1(
    name: str, value: str, text: str, alg: str, prefixes: str, info_prefixes: str, tmp_path: Path
) -> None:
    extra = (
        f'<x:Ext xmlns:x="urn:example:ext" xmlns:unused="urn:unused" x:b={quoteattr(value)} a={quoteattr(value)}>'
        f'{escape(text, {chr(13): "&#13;"})}<Plain xmlns="urn:example:default" xml:lang="en">'
        f"<Inner xmlns=''>{escape(text)}</Inner></Plain><?pi {escape(name)}?></x:Ext>"
    )
    c = Claims(extra_attributes=(("urn:example:attr", (name or "n",)),), extra_text=extra)
    template = response_xml(c, c14n_alg=alg, prefixes=prefixes, info_prefixes=info_prefixes)
    xml = xmlsec_sign(template, RSA_KEY, RSA_CERT, tmp_path)
    assert verify(xml).attributes["urn:example:attr"] == ((name or "n").strip(),)
