"""IAM and STS quotas that Ironkeep enforces, with AWS's default values
(IAM User Guide, "IAM and AWS STS quotas"; lengths and ranges also from botocore's IAM model)."""

# -- object quotas (per account unless said) --------------------------------------------------
USERS_PER_ACCOUNT = 5000
GROUPS_PER_ACCOUNT = 300
ROLES_PER_ACCOUNT = 1000
CUSTOMER_MANAGED_POLICIES_PER_ACCOUNT = 1500
INSTANCE_PROFILES_PER_ACCOUNT = 1000
GROUPS_PER_USER = 10
MANAGED_POLICIES_PER_PRINCIPAL = 10  # users, groups and roles (AWS default; users and roles may ask for more)
MANAGED_POLICIES_PER_USER = MANAGED_POLICIES_PER_PRINCIPAL
MANAGED_POLICIES_PER_GROUP = MANAGED_POLICIES_PER_PRINCIPAL
MANAGED_POLICIES_PER_ROLE = MANAGED_POLICIES_PER_PRINCIPAL
ACCESS_KEYS_PER_USER = 2
VERSIONS_PER_MANAGED_POLICY = 5
ROLES_PER_INSTANCE_PROFILE = 1
TAGS_PER_ENTITY = 50
MFA_DEVICES_PER_USER = 8
SIGNING_CERTIFICATES_PER_USER = 2
SSH_PUBLIC_KEYS_PER_USER = 5
ACCOUNT_ALIASES_PER_ACCOUNT = 1

# -- sizes, in characters without white space -------------------------------------------------
MANAGED_POLICY_SIZE = 6144
INLINE_POLICY_SIZE_USER = 2048  # all of a user's inline policies together
INLINE_POLICY_SIZE_GROUP = 5120
INLINE_POLICY_SIZE_ROLE = 10240
INLINE_POLICY_SIZE = {
    "user": INLINE_POLICY_SIZE_USER,
    "group": INLINE_POLICY_SIZE_GROUP,
    "role": INLINE_POLICY_SIZE_ROLE,
}
ROLE_TRUST_POLICY_SIZE = 2048

# -- lengths (botocore's IAM model) -----------------------------------------------------------
USER_NAME_MAX = 64
GROUP_NAME_MAX = 128
ROLE_NAME_MAX = 64
POLICY_NAME_MAX = 128  # managed and inline
INSTANCE_PROFILE_NAME_MAX = 128
PATH_MAX = 512
ROLE_DESCRIPTION_MAX = 1000
POLICY_DESCRIPTION_MAX = 1000
TAG_KEY_MAX = 128
TAG_VALUE_MAX = 256
ACCOUNT_ALIAS_MIN = 3
ACCOUNT_ALIAS_MAX = 63

ROLE_MAX_SESSION_DURATION_MIN = 3600
ROLE_MAX_SESSION_DURATION_MAX = 43200
ROLE_MAX_SESSION_DURATION_DEFAULT = 3600

MAX_ITEMS_DEFAULT = 100  # Marker/MaxItems listings
MAX_ITEMS_MAX = 1000


def policy_size(document: str) -> int:
    """A policy's size as IAM counts it against these quotas: characters that are not white space."""
    return sum(1 for ch in document if not ch.isspace())
