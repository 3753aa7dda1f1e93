"""SAML 2.0 for CreateSAMLProvider / UpdateSAMLProvider and AssumeRoleWithSAML. Pure, no I/O.

Three layers, each usable alone:

1. **Safe XML.** :func:`parse_xml` runs expat with no namespace processing and builds a small tree
   that keeps prefixes and namespace declarations as written (canonicalization needs them). Any
   DOCTYPE, entity declaration or external entity is refused, so entity expansion attacks and
   external fetches cannot happen.
2. **XML signatures.** :func:`canonicalize` implements Exclusive XML Canonicalization 1.0 and
   Canonical XML 1.0 (with or without comments, with InclusiveNamespaces ``PrefixList``), and
   :func:`verify_enveloped_signature` checks an enveloped XMLDSig signature (RSA or ECDSA with
   SHA-1/256/384/512) over an element referenced by ``ID``. The standard library's
   ``ElementTree.canonicalize`` is C14N 2.0, which differs from both, hence this implementation.
3. **SAML.** :func:`parse_metadata` reads an IdP's metadata (entity id, signing certificates,
   validUntil). :func:`verify_saml_response` decodes a base64 ``SAMLResponse``, checks the
   signature against the metadata's certificates (:func:`signed_assertion`), then the assertion's
   times, audience and recipient, and extracts AWS's attributes (:func:`read_assertion`).

Defences against signature wrapping: the document must hold exactly one Assertion, a direct child
of the Response; the signature must be a direct child of the element it signs, must reference it
by an ``ID`` that occurs once in the document, and must cover either that Assertion or the Response.

Not supported: encrypted assertions (CreateSAMLProvider's ``AssertionEncryptionMode``), and XPath
or other transforms beyond enveloped-signature plus one canonicalization.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from xml.parsers import expat

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from ironkeep.errors import AWSError, InvalidInput, ValidationError

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
DSIG = "http://www.w3.org/2000/09/xmldsig#"
XML_NS = "http://www.w3.org/XML/1998/namespace"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
EXC_C14N_COMMENTS = EXC_C14N + "WithComments"
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
C14N_COMMENTS = C14N + "#WithComments"
ENVELOPED = DSIG + "enveloped-signature"
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
AWS_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/"
AWS_AUDIENCE = "urn:amazon:webservices"
AWS_RECIPIENT = "https://signin.aws.amazon.com/saml"

METADATA_MIN_CHARS, METADATA_MAX_CHARS = 1000, 10_000_000
ASSERTION_MAX_CHARS = 100_000
MAX_DEPTH = 64
"""Deeper documents are refused (SAML needs about 10 levels; the tree walks are recursive)."""
SESSION_DURATION_RANGE = (900, 43200)
_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}", re.ASCII)
_DATETIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?", re.ASCII)

_C14N_MODES = {  # algorithm -> (exclusive, with comments)
    EXC_C14N: (True, False),
    EXC_C14N_COMMENTS: (True, True),
    C14N: (False, False),
    C14N_COMMENTS: (False, True),
}
_DIGESTS = {
    DSIG + "sha1": hashes.SHA1(),
    "http://www.w3.org/2001/04/xmlenc#sha256": hashes.SHA256(),
    "http://www.w3.org/2001/04/xmldsig-more#sha384": hashes.SHA384(),
    "http://www.w3.org/2001/04/xmlenc#sha512": hashes.SHA512(),
}
_MORE = "http://www.w3.org/2001/04/xmldsig-more#"
_SIGNATURES = {  # algorithm -> (key kind, hash)
    DSIG + "rsa-sha1": ("rsa", hashes.SHA1()),
    _MORE + "rsa-sha256": ("rsa", hashes.SHA256()),
    _MORE + "rsa-sha384": ("rsa", hashes.SHA384()),
    _MORE + "rsa-sha512": ("rsa", hashes.SHA512()),
    _MORE + "ecdsa-sha1": ("ec", hashes.SHA1()),
    _MORE + "ecdsa-sha256": ("ec", hashes.SHA256()),
    _MORE + "ecdsa-sha384": ("ec", hashes.SHA384()),
    _MORE + "ecdsa-sha512": ("ec", hashes.SHA512()),
}

METADATA_MESSAGE = "Could not parse metadata"
SIGNATURE_MESSAGE = "Response signature invalid"
SESSION_NAME_MESSAGE = "RoleSessionName in AuthnResponse must match [a-zA-Z_0-9+=,.@-]{2,64}"
REDEEM_MESSAGE = "Token must be redeemed within 5 minutes of issuance"


class InvalidIdentityToken(AWSError):
    code = "InvalidIdentityToken"
    status = 400


class IDPRejectedClaim(AWSError):
    code = "IDPRejectedClaim"
    status = 403


class ExpiredTokenException(AWSError):
    code = "ExpiredTokenException"
    status = 400


class XmlError(ValueError):
    """The text is not well-formed namespaced XML, or uses a DTD or entities."""


# -- 1. safe XML ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Comment:
    data: str


@dataclass(frozen=True, slots=True)
class ProcessingInstruction:
    target: str
    data: str


@dataclass(eq=False, slots=True)
class Element:
    """An element as written: qualified name, attributes and namespace declarations kept."""

    name: str
    namespace: str
    local: str
    attributes: list[tuple[str, str, str, str]]
    """(qualified name, namespace, local name, value), namespace declarations excluded."""
    declarations: dict[str, str]
    """Namespace declarations on this element: prefix ('' for the default) -> URI."""
    scope: dict[str, str]
    """Namespaces in scope here, declarations of ancestors included (an empty default is absent)."""
    parent: Element | None
    children: list[Element | str | Comment | ProcessingInstruction] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        return self.name.partition(":")[0] if ":" in self.name else ""

    def get(self, local: str, namespace: str = "") -> str | None:
        for _, ns, name, value in self.attributes:
            if name == local and ns == namespace:
                return value
        return None

    def elements(self, namespace: str, local: str) -> list[Element]:
        return [
            c
            for c in self.children
            if isinstance(c, Element) and c.local == local and c.namespace == namespace
        ]

    def text(self) -> str:
        return "".join(c for c in self.children if isinstance(c, str))

    def iter(self) -> Iterator[Element]:
        yield self
        for child in self.children:
            if isinstance(child, Element):
                yield from child.iter()


class _Builder:
    def __init__(self) -> None:
        self.root: Element | None = None
        self.stack: list[Element] = []

    def start(self, name: str, raw: list[str]) -> None:
        if len(self.stack) >= MAX_DEPTH:
            raise XmlError("document nested too deeply")
        parent = self.stack[-1] if self.stack else None
        pairs = list(zip(raw[::2], raw[1::2], strict=True))
        declarations = {}
        for qname, value in pairs:
            if qname == "xmlns" or qname.startswith("xmlns:"):
                prefix = qname[6:]
                if prefix in ("xml", "xmlns") or (prefix and not value):
                    raise XmlError(f"illegal namespace declaration {qname}")
                declarations[prefix] = value
        scope = parent.scope if parent is not None else {}
        if declarations:
            scope = {**scope, **declarations}
            if not scope.get(""):
                scope.pop("", None)
        namespace, local = _resolve(name, scope, element=True)
        attributes, seen = [], set()
        for qname, value in pairs:
            if qname == "xmlns" or qname.startswith("xmlns:"):
                continue
            ns, attr_local = _resolve(qname, scope, element=False)
            if (ns, attr_local) in seen:
                raise XmlError(f"duplicate attribute {qname}")
            seen.add((ns, attr_local))
            attributes.append((qname, ns, attr_local, value))
        element = Element(name, namespace, local, attributes, declarations, scope, parent)
        if parent is None:
            self.root = element
        else:
            parent.children.append(element)
        self.stack.append(element)

    def end(self, name: str) -> None:
        self.stack.pop()

    def text(self, data: str) -> None:
        if self.stack:
            self.stack[-1].children.append(data)

    def comment(self, data: str) -> None:
        if self.stack:
            self.stack[-1].children.append(Comment(data))

    def pi(self, target: str, data: str) -> None:
        if self.stack:
            self.stack[-1].children.append(ProcessingInstruction(target, data))


def _resolve(qname: str, scope: dict[str, str], *, element: bool) -> tuple[str, str]:
    prefix, colon, local = qname.partition(":")
    if not colon:
        return (scope.get("", "") if element else ""), qname
    if prefix == "xml":
        return XML_NS, local
    if prefix not in scope or not local or ":" in local:
        raise XmlError(f"unbound prefix in {qname}")
    return scope[prefix], local


def _refuse(*_: object) -> None:
    raise XmlError("DTDs and entities are not allowed")


def parse_xml(document: str | bytes) -> Element:
    """Parse a document into an :class:`Element` tree; :class:`XmlError` for anything unsafe or broken."""
    builder = _Builder()
    parser = expat.ParserCreate("utf-8" if isinstance(document, str) else None)
    parser.buffer_text = True
    parser.ordered_attributes = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.UnparsedEntityDeclHandler = _refuse
    parser.ExternalEntityRefHandler = _refuse  # type: ignore[assignment]
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.text
    parser.CommentHandler = builder.comment
    parser.ProcessingInstructionHandler = builder.pi
    try:
        parser.Parse(document.encode("utf-8") if isinstance(document, str) else document, True)
    except (expat.ExpatError, LookupError, UnicodeError) as err:  # LookupError: unknown declared encoding
        raise XmlError(str(err)) from None
    if builder.root is None:
        raise XmlError("no root element")
    return builder.root


# -- 2. canonicalization and signatures --------------------------------------------------------------


def canonicalize(
    element: Element,
    *,
    exclusive: bool = True,
    with_comments: bool = False,
    inclusive_prefixes: Iterable[str] = (),
    exclude: Element | None = None,
) -> bytes:
    """The element's subtree (minus ``exclude``'s) in Exclusive C14N 1.0 or Canonical XML 1.0."""
    prefixes = frozenset("" if p == "#default" else p for p in inclusive_prefixes)
    out: list[str] = []
    extra: list[tuple[str, str, str, str]] = []
    if not exclusive:  # C14N 1.0 gives a document subset's apex the xml:* attributes it inherits
        own = {local for _, ns, local, _ in element.attributes if ns == XML_NS}
        ancestor = element.parent
        while ancestor is not None:
            for attr in ancestor.attributes:
                if attr[1] == XML_NS and attr[2] not in own:
                    own.add(attr[2])
                    extra.append(attr)
            ancestor = ancestor.parent
    _emit(element, out, {"": ""}, exclusive, with_comments, prefixes, exclude, extra)
    return "".join(out).encode("utf-8")


def _emit(
    el: Element,
    out: list[str],
    rendered: dict[str, str],
    exclusive: bool,
    with_comments: bool,
    prefixes: frozenset[str],
    exclude: Element | None,
    extra: list[tuple[str, str, str, str]],
) -> None:
    if exclusive:
        wanted = {el.prefix} | {q.partition(":")[0] for q, ns, _, _ in el.attributes if ":" in q} | prefixes
        wanted.discard("xml")
    else:
        wanted = set(el.scope) | {""}
    declarations = []
    for prefix in sorted(wanted):
        if prefix and prefix not in el.scope:
            continue
        uri = el.scope.get(prefix, "")
        if rendered.get(prefix) != uri:
            declarations.append((prefix, uri))
    out.append("<" + el.name)
    for prefix, uri in declarations:
        out.append(f' xmlns{":" + prefix if prefix else ""}="{_escape_attr(uri)}"')
    for qname, _, _, value in sorted([*el.attributes, *extra], key=lambda a: (a[1], a[2])):
        out.append(f' {qname}="{_escape_attr(value)}"')
    out.append(">")
    if declarations:
        rendered = {**rendered, **dict(declarations)}
    for child in el.children:
        if isinstance(child, str):
            out.append(_escape_text(child))
        elif isinstance(child, Element):
            if child is not exclude:
                _emit(child, out, rendered, exclusive, with_comments, prefixes, exclude, [])
        elif isinstance(child, Comment):
            if with_comments:
                out.append(f"<!--{child.data}-->")
        else:
            out.append(f"<?{child.target}{' ' + child.data if child.data else ''}?>")
    out.append(f"</{el.name}>")


def _escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#xD;")


def _escape_attr(value: str) -> str:
    return (
        value.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace('"', "&quot;")
        .replace("\t", "&#x9;")
        .replace("\n", "&#xA;")
        .replace("\r", "&#xD;")
    )


class SignatureError(ValueError):
    """The signature is malformed, uses an unsupported algorithm, or does not verify."""


def verify_enveloped_signature(
    target: Element, signature: Element, certificates: Sequence[x509.Certificate], id_count: int
) -> None:
    """Check ``signature`` (a ds:Signature child of ``target``) signs ``target`` with one of ``certificates``.

    ``id_count`` is how many elements of the document carry ``target``'s ID: it must be exactly 1.
    """
    target_id = target.get("ID")
    if not target_id or id_count != 1:
        raise SignatureError("the signed element needs an ID that occurs once in the document")
    signed_info = _single(signature, DSIG, "SignedInfo")
    exclusive, with_comments, prefixes = _c14n_method(_single(signed_info, DSIG, "CanonicalizationMethod"))
    method = _single(signed_info, DSIG, "SignatureMethod").get("Algorithm")
    if method not in _SIGNATURES:
        raise SignatureError(f"unsupported signature method {method}")
    reference = _single(signed_info, DSIG, "Reference")
    if reference.get("URI") != "#" + target_id:
        raise SignatureError("the signature does not reference the signed element")
    enveloped, ref_exclusive, ref_prefixes = _reference_transforms(reference)
    digest_method = _single(reference, DSIG, "DigestMethod").get("Algorithm")
    if digest_method not in _DIGESTS:
        raise SignatureError(f"unsupported digest method {digest_method}")
    expected = _b64(_single(reference, DSIG, "DigestValue").text())
    content = canonicalize(
        target,
        exclusive=ref_exclusive,
        inclusive_prefixes=ref_prefixes,
        exclude=signature if enveloped else None,
    )
    digest = hashes.Hash(_DIGESTS[digest_method])
    digest.update(content)
    if not hmac.compare_digest(digest.finalize(), expected):
        raise SignatureError("digest mismatch")
    signed = canonicalize(
        signed_info, exclusive=exclusive, with_comments=with_comments, inclusive_prefixes=prefixes
    )
    value = _b64(_single(signature, DSIG, "SignatureValue").text())
    kind, hash_algorithm = _SIGNATURES[method]
    for certificate in certificates:
        if _signature_ok(certificate, kind, hash_algorithm, value, signed):
            return
    raise SignatureError("no trusted certificate verifies the signature")


def _signature_ok(
    certificate: x509.Certificate, kind: str, algorithm: hashes.HashAlgorithm, value: bytes, signed: bytes
) -> bool:
    try:
        key = certificate.public_key()
        if kind == "rsa" and isinstance(key, rsa.RSAPublicKey):
            key.verify(value, signed, padding.PKCS1v15(), algorithm)
            return True
        if kind == "ec" and isinstance(key, ec.EllipticCurvePublicKey):
            half = (key.curve.key_size + 7) // 8
            if len(value) != 2 * half:
                return False
            r, s = int.from_bytes(value[:half], "big"), int.from_bytes(value[half:], "big")
            key.verify(encode_dss_signature(r, s), signed, ec.ECDSA(algorithm))
            return True
    except (InvalidSignature, UnsupportedAlgorithm, ValueError):
        return False
    return False


def _c14n_method(method: Element) -> tuple[bool, bool, frozenset[str]]:
    algorithm = method.get("Algorithm")
    if algorithm not in _C14N_MODES:
        raise SignatureError(f"unsupported canonicalization {algorithm}")
    exclusive, with_comments = _C14N_MODES[algorithm]
    prefixes: frozenset[str] = frozenset()
    for inclusive in method.elements(EXC_C14N, "InclusiveNamespaces"):
        prefixes = frozenset((inclusive.get("PrefixList") or "").split())
    return exclusive, with_comments, prefixes


def _reference_transforms(reference: Element) -> tuple[bool, bool, frozenset[str]]:
    """(enveloped?, exclusive?, PrefixList): enveloped-signature and/or one canonicalization, in that order."""
    transforms = [
        t for group in reference.elements(DSIG, "Transforms") for t in group.elements(DSIG, "Transform")
    ]
    algorithms = [t.get("Algorithm") for t in transforms]
    enveloped = bool(algorithms) and algorithms[0] == ENVELOPED
    rest = transforms[1:] if enveloped else transforms
    if len(rest) > 1:
        raise SignatureError("unsupported transforms")
    if not rest:  # a node-set is turned into octets with C14N 1.0 (XMLDSig 4.3.3.2)
        return enveloped, False, frozenset()
    exclusive, _, prefixes = _c14n_method(rest[0])  # same-document references drop comments
    return enveloped, exclusive, prefixes


def _single(parent: Element, namespace: str, local: str) -> Element:
    found = parent.elements(namespace, local)
    if len(found) != 1:
        raise SignatureError(f"expected one {local}")
    return found[0]


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("bad base64") from None


# -- 3. SAML metadata ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SamlMetadata:
    entity_id: str
    signing_certificates: tuple[x509.Certificate, ...]
    valid_until: datetime | None
    """The earliest ``validUntil`` of the EntityDescriptor and its IDPSSODescriptor (GetSAMLProvider's ValidUntil)."""


def parse_metadata(document: str) -> SamlMetadata:
    """CreateSAMLProvider / UpdateSAMLProvider's ``SAMLMetadataDocument`` (InvalidInput if unusable)."""
    if not METADATA_MIN_CHARS <= len(document) <= METADATA_MAX_CHARS:
        bound = (
            "greater than or equal to 1000"
            if len(document) < METADATA_MIN_CHARS
            else "less than or equal to 10000000"
        )
        raise ValidationError(
            "1 validation error detected: Value at 'sAMLMetadataDocument' failed to satisfy constraint: "
            f"Member must have length {bound}"
        )
    try:
        root = parse_xml(document)
    except XmlError:
        raise InvalidInput(METADATA_MESSAGE) from None
    entity = root
    if (root.namespace, root.local) == (MD, "EntitiesDescriptor"):
        idps = [e for e in root.elements(MD, "EntityDescriptor") if e.elements(MD, "IDPSSODescriptor")]
        entity = idps[0] if len(idps) == 1 else root
    if (entity.namespace, entity.local) != (MD, "EntityDescriptor"):
        raise InvalidInput(METADATA_MESSAGE)
    entity_id = entity.get("entityID")
    descriptors = [
        d
        for d in entity.elements(MD, "IDPSSODescriptor")
        if SAMLP in (d.get("protocolSupportEnumeration") or "").split()
    ]
    if not entity_id or len(descriptors) != 1:
        raise InvalidInput(METADATA_MESSAGE)
    idp = descriptors[0]
    certificates = []
    for key_descriptor in idp.elements(MD, "KeyDescriptor"):
        if key_descriptor.get("use") not in (None, "signing"):
            continue
        for key_info in key_descriptor.elements(DSIG, "KeyInfo"):
            for data in key_info.elements(DSIG, "X509Data"):
                for cert in data.elements(DSIG, "X509Certificate"):
                    try:
                        certificates.append(x509.load_der_x509_certificate(_b64(cert.text())))
                    except (SignatureError, ValueError):
                        raise InvalidInput(METADATA_MESSAGE) from None
    if not certificates:
        raise InvalidInput(METADATA_MESSAGE)
    try:
        limits = [_datetime(v) for v in (entity.get("validUntil"), idp.get("validUntil")) if v is not None]
    except ValueError:
        raise InvalidInput(METADATA_MESSAGE) from None
    return SamlMetadata(entity_id, tuple(certificates), min(limits) if limits else None)


def _datetime(text: str) -> datetime:
    """xs:dateTime as SAML writes it (UTC, optional fraction of any length)."""
    match = _DATETIME.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not an xs:dateTime: {text!r}")
    base, fraction, zone = match.groups()
    parsed = datetime.fromisoformat(
        base + (f".{fraction[:6]:0<6}" if fraction else "") + (zone or "Z").replace("Z", "+00:00")
    )
    return parsed.astimezone(UTC)


# -- 3. SAML responses --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SamlAssertion:
    """What AssumeRoleWithSAML uses from a verified assertion."""

    issuer: str
    subject: str
    """NameID: the response's ``Subject`` and the ``saml:sub`` key."""
    subject_type: str
    """``persistent``, ``transient`` or the full Format URI (``saml:sub_type``)."""
    audiences: tuple[str, ...]
    recipient: str
    """SubjectConfirmationData's Recipient: ``saml:aud``."""
    not_on_or_after: datetime
    """SubjectConfirmationData's NotOnOrAfter."""
    conditions_not_before: datetime | None
    conditions_not_on_or_after: datetime | None
    session_not_on_or_after: datetime | None
    """AuthnStatement's SessionNotOnOrAfter: the session may not outlast it."""
    issue_instant: datetime
    roles: tuple[tuple[str, str], ...]
    """(role ARN, SAML provider ARN) pairs from the Role attribute, whichever order each value used."""
    role_session_name: str
    session_duration: int | None
    source_identity: str | None
    principal_tags: tuple[tuple[str, str], ...]
    transitive_tag_keys: tuple[str, ...]
    attributes: dict[str, tuple[str, ...]]
    """Every attribute by Name, for ``saml:`` condition keys such as ``saml:edupersonaffiliation``."""


def decode_saml_response(response_b64: str) -> Element:
    """Base64 → XML tree of a ``samlp:Response`` (InvalidIdentityToken if it is not one)."""
    if len(response_b64) > ASSERTION_MAX_CHARS:
        raise InvalidIdentityToken("Invalid SAML response: the assertion is too long")
    try:
        root = parse_xml(base64.b64decode("".join(response_b64.split()), validate=True))
    except (binascii.Error, ValueError):
        raise InvalidIdentityToken("Invalid SAML response: the assertion is not base64-encoded XML") from None
    if (root.namespace, root.local) != (SAMLP, "Response"):
        raise InvalidIdentityToken("Invalid SAML response: the root element must be samlp:Response")
    return root


def signed_assertion(response: Element, certificates: Sequence[x509.Certificate]) -> Element:
    """The response's one Assertion, once a signature over it (or over the Response) verifies."""
    assertions = [
        e for e in response.iter() if e.namespace == SAML and e.local in ("Assertion", "EncryptedAssertion")
    ]
    if len(assertions) != 1 or assertions[0].parent is not response:
        raise InvalidIdentityToken("Invalid SAML response: expected exactly one assertion")
    assertion = assertions[0]
    if assertion.local == "EncryptedAssertion":
        raise InvalidIdentityToken("Invalid SAML response: encrypted assertions are not supported")
    ids: dict[str, int] = {}
    for element in response.iter():
        value = element.get("ID")
        if value is not None:
            ids[value] = ids.get(value, 0) + 1
    signed = False
    for target in (assertion, response):
        for signature in target.elements(DSIG, "Signature"):
            try:
                verify_enveloped_signature(
                    target, signature, certificates, ids.get(target.get("ID") or "", 0)
                )
            except SignatureError:
                raise InvalidIdentityToken(SIGNATURE_MESSAGE) from None
            signed = True
    if not signed:
        raise InvalidIdentityToken(SIGNATURE_MESSAGE)
    return assertion


def read_assertion(assertion: Element) -> SamlAssertion:
    """Extract AWS's fields from an Assertion (signature NOT checked here: see :func:`signed_assertion`)."""
    try:
        return _read_assertion(assertion)
    except (SignatureError, ValueError):
        raise InvalidIdentityToken(
            "Invalid SAML response: the assertion is incomplete or malformed"
        ) from None


def _read_assertion(assertion: Element) -> SamlAssertion:
    issuer = _single(assertion, SAML, "Issuer").text().strip()
    subject = _single(assertion, SAML, "Subject")
    name_id = _single(subject, SAML, "NameID")
    data = [
        d
        for c in subject.elements(SAML, "SubjectConfirmation")
        for d in c.elements(SAML, "SubjectConfirmationData")
    ]
    if len(data) != 1 or data[0].get("NotOnOrAfter") is None or data[0].get("Recipient") is None:
        raise ValueError("exactly one SubjectConfirmationData with NotOnOrAfter and Recipient")
    conditions = _single(assertion, SAML, "Conditions")
    audiences = tuple(
        a.text().strip()
        for r in conditions.elements(SAML, "AudienceRestriction")
        for a in r.elements(SAML, "Audience")
    )
    attributes: dict[str, tuple[str, ...]] = {}
    for statement in assertion.elements(SAML, "AttributeStatement"):
        for attribute in statement.elements(SAML, "Attribute"):
            name = attribute.get("Name") or ""
            values = tuple(v.text().strip() for v in attribute.elements(SAML, "AttributeValue"))
            attributes[name] = attributes.get(name, ()) + values
    session_limits = [
        _datetime(v)
        for s in assertion.elements(SAML, "AuthnStatement")
        if (v := s.get("SessionNotOnOrAfter"))
    ]
    names = attributes.get(AWS_ATTRIBUTE + "RoleSessionName", ())
    if len(names) != 1 or not _SESSION_NAME.fullmatch(names[0]):
        raise InvalidIdentityToken(SESSION_NAME_MESSAGE)
    sub_format = name_id.get("Format") or "urn:oasis:names:tc:SAML:2.0:nameid-format:unspecified"
    short = sub_format.rsplit(":", 1)[-1]
    return SamlAssertion(
        issuer=issuer,
        subject=name_id.text().strip(),
        subject_type=short if short in ("persistent", "transient") else sub_format,
        audiences=audiences,
        recipient=data[0].get("Recipient") or "",
        not_on_or_after=_datetime(data[0].get("NotOnOrAfter") or ""),
        conditions_not_before=_optional_datetime(conditions.get("NotBefore")),
        conditions_not_on_or_after=_optional_datetime(conditions.get("NotOnOrAfter")),
        session_not_on_or_after=min(session_limits) if session_limits else None,
        issue_instant=_datetime(assertion.get("IssueInstant") or ""),
        roles=_roles(attributes.get(AWS_ATTRIBUTE + "Role", ())),
        role_session_name=names[0],
        session_duration=_session_duration(attributes.get(AWS_ATTRIBUTE + "SessionDuration", ())),
        source_identity=_single_value(attributes.get(AWS_ATTRIBUTE + "SourceIdentity", ())),
        principal_tags=tuple(
            (name[len(AWS_ATTRIBUTE + "PrincipalTag:") :], values[0])
            for name, values in attributes.items()
            if name.startswith(AWS_ATTRIBUTE + "PrincipalTag:") and len(values) == 1
        ),
        transitive_tag_keys=attributes.get(AWS_ATTRIBUTE + "TransitiveTagKeys", ()),
        attributes=attributes,
    )


def _optional_datetime(text: str | None) -> datetime | None:
    return _datetime(text) if text is not None else None


def _roles(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for value in values:
        parts = [p.strip() for p in value.split(",")]
        if len(parts) != 2:
            continue
        providers = [p for p in parts if re.fullmatch(r"arn:[\w-]+:iam::\d{12}:saml-provider/.+", p)]
        roles = [p for p in parts if re.fullmatch(r"arn:[\w-]+:iam::\d{12}:role/.+", p)]
        if len(providers) == 1 and len(roles) == 1:
            pairs.append((roles[0], providers[0]))
    return tuple(pairs)


def _session_duration(values: tuple[str, ...]) -> int | None:
    if not values:
        return None
    low, high = SESSION_DURATION_RANGE
    if (
        len(values) != 1
        or not values[0].isascii()
        or not values[0].isdigit()
        or not low <= int(values[0]) <= high
    ):
        raise InvalidIdentityToken(
            f"SessionDuration in AuthnResponse must be an integer between {low} and {high}"
        )
    return int(values[0])


def _single_value(values: tuple[str, ...]) -> str | None:
    if len(values) > 1:
        raise ValueError("attribute must have one value")
    return values[0] if values else None


def check_assertion(
    assertion: SamlAssertion,
    now: datetime,
    *,
    audience: str = AWS_AUDIENCE,
    recipient: str = AWS_RECIPIENT,
    max_age: timedelta = timedelta(minutes=5),
    clock_skew: timedelta = timedelta(minutes=5),
) -> None:
    """Times, audience and recipient. ExpiredTokenException if stale, InvalidIdentityToken otherwise."""
    now = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    limits = [assertion.not_on_or_after, assertion.conditions_not_on_or_after]
    if (
        any(limit is not None and now >= limit for limit in limits)
        or now - assertion.issue_instant > max_age + clock_skew
    ):
        raise ExpiredTokenException(REDEEM_MESSAGE)
    starts = [assertion.issue_instant, assertion.conditions_not_before]
    if any(start is not None and start - now > clock_skew for start in starts):
        raise InvalidIdentityToken("Invalid SAML response: the assertion is not yet valid")
    if audience not in assertion.audiences:
        raise InvalidIdentityToken(f"Invalid SAML response: the audience must include {audience}")
    if assertion.recipient != recipient:
        raise InvalidIdentityToken(f"Invalid SAML response: the recipient must be {recipient}")


def verify_saml_response(
    response_b64: str,
    certificates: Sequence[x509.Certificate],
    now: datetime,
    *,
    audience: str = AWS_AUDIENCE,
    recipient: str = AWS_RECIPIENT,
) -> SamlAssertion:
    """AssumeRoleWithSAML's ``SAMLAssertion``: decode, check the IdP's status and signature, read, check."""
    response = decode_saml_response(response_b64)
    status = [
        c.get("Value") for s in response.elements(SAMLP, "Status") for c in s.elements(SAMLP, "StatusCode")
    ]
    if status != [SUCCESS]:
        raise IDPRejectedClaim("The identity provider did not report a successful authentication")
    assertion = read_assertion(signed_assertion(response, certificates))
    check_assertion(assertion, now, audience=audience, recipient=recipient)
    return assertion


def name_qualifier(issuer: str, account_id: str, provider_name: str) -> str:
    """``saml:namequalifier``: BASE64(SHA1(issuer + account id + "/" + provider friendly name))."""
    digest = hashlib.sha1((issuer + account_id + "/" + provider_name).encode("utf-8"), usedforsecurity=False)
    return base64.b64encode(digest.digest()).decode("ascii")
