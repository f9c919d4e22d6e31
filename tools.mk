# Pinned tool versions: the one place they are set.
OPA_VERSION := v1.22.2
CONFTEST_VERSION := v0.71.1
# go-containerregistry's registry: the local OCI registry the publish tests push to.
REGISTRY_VERSION := v0.22.1
