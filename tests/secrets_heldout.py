"""Held-out secrets: shapes and contexts the redaction rules were NOT written from (tests/redaction_corpus.py is
that set). Each line is (kind, line, secret) with a generated fake value; the scan tests write them through every
path into the store and then look for each secret in the database and the exports. A miss here is a rule that
does not generalise."""
from __future__ import annotations

import random
import string

_random = random.Random(20261204)
ALNUM = string.ascii_letters + string.digits


def fake(length: int, charset: str = ALNUM) -> str:
    return "".join(_random.choice(charset) for _ in range(length))


def _heldout() -> list[tuple[str, str, str]]:
    lines: list[tuple[str, str, str]] = []

    def add(kind: str, template: str, secret: str) -> None:
        lines.append((kind, template.format(secret=secret), secret))

    add("systemd-environment", 'Environment="DB_PASSWORD={secret}"', fake(16))
    add("kubectl-from-literal", "kubectl create secret generic db --from-literal=password={secret}", fake(18))
    add("git-remote-token", "remote: https://oauth2:glpat-{secret}@gitlab.example.com/shop/api.git", fake(20))
    add("mongodb-srv-url", "MONGO_URL=mongodb+srv://shop:{secret}@cluster0.ab1cd.mongodb.net/shop", fake(15))
    add("amqp-url", "broker connection lost: amqp://worker:{secret}@rabbit.internal:5672/%2f", fake(14))
    add("camelcase-json-api-key", '{{"apiKey": "{secret}", "region": "eu-west-1"}}', fake(32))
    add("client-secret-query", "POST /oauth/token?grant_type=client_credentials&client_secret={secret}", fake(30))
    add("docker-run-aws-secret", "docker run -e AWS_SECRET_ACCESS_KEY={secret} shop/api:1.4", fake(40, ALNUM + "/+"))
    add("python-openai-key", 'openai.api_key = "sk-proj-{secret}"', fake(48))
    add("encrypted-pem", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI{secret}\n"
                         "-----END ENCRYPTED PRIVATE KEY-----", fake(40))
    add("ruby-hash-password", "config.database = {{ host: 'db', password => '{secret}' }}", fake(12))
    add("php-password", '$db_password = "{secret}";', fake(14))
    add("rails-secret-key-base", "SECRET_KEY_BASE={secret}", fake(64, "0123456789abcdef"))
    add("yaml-slack-token", "  token: xoxb-{secret}", "123456789012-1234567890123-" + fake(24))
    add("azure-connection-string",
        "DefaultEndpointsProtocol=https;AccountName=shopstore;AccountKey={secret};EndpointSuffix=core.windows.net",
        fake(86, ALNUM + "+/") + "==")
    add("npmrc-auth-token", "//registry.npmjs.org/:_authToken=npm_{secret}", fake(36))
    add("pypirc-password", "password = pypi-AgEIcHlwaS5vcmc{secret}", fake(60))
    add("huggingface-env", "export HF_TOKEN=hf_{secret}", fake(34))
    add("redis-default-user", "redis://default:{secret}@cache.internal:6379", fake(20))
    add("mysql-password-long", "mysql -u root --password={secret} shop", fake(13))
    add("sshpass-quoted", "sshpass -p '{secret}' ssh deploy@web-1", fake(11))
    add("vault-header-json", '{{"X-Vault-Token": "hvs.{secret}"}}', fake(90))
    add("stripe-live-in-log", "charge failed for key rk_live_{secret} (card declined)", fake(24))
    add("sendgrid-json", '{{"sendgrid": "SG.{secret}"}}', fake(22, ALNUM + "-_") + "." + fake(43, ALNUM + "-_"))
    add("github-token-header", "Authorization: token ghp_{secret}", fake(36))
    add("slack-user-in-sentence", "use xoxp-{secret} to post as the bot", "2222222222-3333333333-444444444444-" + fake(32, "0123456789abcdef"))
    add("jwt-in-cookie", "Set-Cookie: session={secret}; HttpOnly",
        "eyJhbGciOiJIUzI1NiJ9." + fake(40, ALNUM + "-_") + "." + fake(43, ALNUM + "-_"))
    add("env-file-api-token", "API_TOKEN={secret}", fake(40))
    add("password-colon-spaces", "db password : {secret}", fake(12))
    add("aws-key-id-in-arn-log", "assumed role with AKIA{secret} from 10.0.0.4", fake(16, string.ascii_uppercase + "234567"))
    return lines


HELDOUT = _heldout()
