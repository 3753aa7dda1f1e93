"""IAM's entities' rules: names, paths, ARNs, limits, and the AWS-managed policy catalogue."""
