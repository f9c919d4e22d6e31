"""Where an evaluation ran: repository, commit, ref, run URL, from CI variables."""

from __future__ import annotations

from collections.abc import Mapping


def _github(env: Mapping[str, str]) -> dict[str, str | None]:
    server = env.get("GITHUB_SERVER_URL", "https://github.com")
    repo = env.get("GITHUB_REPOSITORY")
    run = env.get("GITHUB_RUN_ID")
    return {
        "system": "github-actions",
        "repository": repo,
        "commit": env.get("GITHUB_SHA"),
        "ref": env.get("GITHUB_HEAD_REF") or env.get("GITHUB_REF_NAME"),
        "run_url": f"{server}/{repo}/actions/runs/{run}" if repo and run else None,
        "actor": env.get("GITHUB_ACTOR"),
        "workspace": None,
    }


def _gitlab(env: Mapping[str, str]) -> dict[str, str | None]:
    return {
        "system": "gitlab-ci",
        "repository": env.get("CI_PROJECT_PATH"),
        "commit": env.get("CI_COMMIT_SHA"),
        "ref": (env.get("CI_MERGE_REQUEST_IID") and f"!{env['CI_MERGE_REQUEST_IID']}")
        or env.get("CI_COMMIT_REF_NAME"),
        "run_url": env.get("CI_PIPELINE_URL") or env.get("CI_JOB_URL"),
        "actor": env.get("GITLAB_USER_LOGIN"),
        "workspace": None,
    }


def _atlantis(env: Mapping[str, str]) -> dict[str, str | None]:
    owner, name = env.get("BASE_REPO_OWNER"), env.get("BASE_REPO_NAME")
    return {
        "system": "atlantis",
        "repository": f"{owner}/{name}" if owner and name else None,
        "commit": env.get("HEAD_COMMIT"),
        "ref": (env.get("PULL_NUM") and f"#{env['PULL_NUM']}") or env.get("HEAD_BRANCH_NAME"),
        "run_url": env.get("PULL_URL"),
        "actor": env.get("USER_NAME") or env.get("PULL_AUTHOR"),
        "workspace": env.get("WORKSPACE"),
    }


def _spacelift(env: Mapping[str, str]) -> dict[str, str | None]:
    return {
        "system": "spacelift",
        "repository": env.get("TF_VAR_spacelift_repository"),
        "commit": env.get("TF_VAR_spacelift_commit_sha"),
        "ref": env.get("TF_VAR_spacelift_commit_branch"),
        "run_url": env.get("TF_VAR_spacelift_run_id"),
        "actor": env.get("TF_VAR_spacelift_run_trigger"),
        "workspace": env.get("TF_VAR_spacelift_stack_id"),
    }


def _tfc(env: Mapping[str, str]) -> dict[str, str | None]:
    return {
        "system": "terraform-cloud",
        "repository": None,
        "commit": env.get("TFC_CONFIGURATION_VERSION_GIT_COMMIT_SHA"),
        "ref": env.get("TFC_CONFIGURATION_VERSION_GIT_BRANCH"),
        "run_url": env.get("TFC_RUN_ID"),
        "actor": None,
        "workspace": env.get("TFC_WORKSPACE_NAME"),
    }


def _generic(env: Mapping[str, str]) -> dict[str, str | None]:
    return {
        "system": "ci" if env.get("CI") else "local",
        "repository": env.get("SOC2OPA_REPOSITORY"),
        "commit": env.get("SOC2OPA_COMMIT"),
        "ref": env.get("SOC2OPA_REF"),
        "run_url": env.get("SOC2OPA_RUN_URL"),
        "actor": env.get("SOC2OPA_ACTOR") or env.get("USER"),
        "workspace": env.get("SOC2OPA_WORKSPACE"),
    }


def ci_context(env: Mapping[str, str]) -> dict[str, str | None]:
    """The CI facts of this run; SOC2OPA_* variables fill what the CI system does not say."""
    if env.get("GITHUB_ACTIONS") == "true":
        found = _github(env)
    elif env.get("GITLAB_CI"):
        found = _gitlab(env)
    elif env.get("ATLANTIS_TERRAFORM_VERSION") or (
        env.get("PULL_NUM") and env.get("BASE_REPO_NAME")
    ):
        found = _atlantis(env)
    elif env.get("SPACELIFT") or env.get("TF_VAR_spacelift_run_id"):
        found = _spacelift(env)
    elif env.get("TFC_RUN_ID"):
        found = _tfc(env)
    else:
        return _generic(env)
    generic = _generic(env)
    return {k: v if v else generic[k] for k, v in found.items()}
