"""A corpus of secrets in the shapes they take in real logs, configs and command lines, with generated fake
values (seeded: the same every run), and ordinary lines that must come through untouched.

`SECRETS` holds (kind, line, secret): after redaction the secret must not appear in the line. Used by
tests/unit/test_redact.py, the real-path tests and bench/redact.py.
"""
from __future__ import annotations

import base64
import random
import string

_random = random.Random(20261124)
ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "_-"


def fake(charset: str, length: int) -> str:
    return "".join(_random.choice(charset) for _ in range(length))


def pem_body(lines: int = 6) -> list[str]:
    return [base64.b64encode(_random.randbytes(48)).decode() for _ in range(lines)]


def _pem(kind: str) -> tuple[str, str]:
    body = pem_body()
    return f"-----BEGIN {kind}PRIVATE KEY-----\n" + "\n".join(body) + f"\n-----END {kind}PRIVATE KEY-----", body[2]


def _corpus() -> list[tuple[str, str, str]]:
    pw = fake(ALNUM, 14)
    s: list[tuple[str, str, str]] = []

    def add(kind: str, template: str, secret: str) -> None:
        s.append((kind, template.format(secret=secret), secret))

    # private keys
    for kind, label in (("rsa-private-key", "RSA "), ("ec-private-key", "EC "), ("pkcs8-private-key", ""),
                        ("openssh-private-key", "OPENSSH "), ("dsa-private-key", "DSA ")):
        block, secret = _pem(label)
        s.append((kind, f"loaded key:\n{block}\ndone", secret))
    body = pem_body()
    s.append(("pgp-private-key", "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n" + "\n".join(body)
              + "\n-----END PGP PRIVATE KEY BLOCK-----", body[1]))
    cut = s[0][1].split("\n")[3]  # one body line of the RSA key, as `--grep` or `--tail` might cut it out
    s.append(("key-body-line-alone", f"  {cut}", cut))
    gcp_key = "\\n".join(pem_body())
    add("gcp-service-account-private-key",
        '{{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\n{secret}\\n-----END PRIVATE KEY-----\\n"}}',
        gcp_key)
    add("gcp-private-key-id", '{{"private_key_id": "{secret}", "client_email": "a@b.iam.gserviceaccount.com"}}',
        fake(HEX, 40))
    add("age-secret-key", "AGE-SECRET-KEY-1{secret}", fake("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58))

    # URLs and headers
    add("postgres-url", "DATABASE_URL=postgres://app:{secret}@db.internal:5432/shop", pw)
    add("redis-url-empty-user", "connecting to redis://:{secret}@cache:6379/0", fake(ALNUM, 20))
    add("url-password-with-slash", "amqp://svc:{secret}@mq:5672/vhost", "p4ss/w0rd" + fake(ALNUM, 6))
    add("url-password-with-at", "mongodb://root:{secret}@mongo-0:27017/admin", "p@ss" + fake(ALNUM, 8))
    add("mysql-url", "mysql://root:{secret}@10.0.0.5/app", fake(ALNUM, 12))
    add("https-basic-url", "fetch https://deploy:{secret}@git.example.com/repo.git", fake(ALNUM, 16))
    add("sentry-dsn", "SENTRY_DSN=https://{secret}@o123456.ingest.sentry.io/789", fake(HEX, 32))
    add("bearer-header", "Authorization: Bearer {secret}", fake(URLSAFE, 40))
    add("basic-header", "authorization: Basic {secret}", base64.b64encode(f"admin:{pw}".encode()).decode())
    add("token-header", "Authorization: token {secret}", fake(HEX, 40))
    add("okta-ssws-header", "Authorization: SSWS {secret}", fake(URLSAFE, 42))
    add("x-api-key-header", "curl -H 'X-API-Key: {secret}' https://api.example.com", fake(ALNUM, 32))
    add("x-auth-token-header", "X-Auth-Token: {secret}", fake(ALNUM, 30))
    add("vault-token-header", "X-Vault-Token: {secret}", fake(ALNUM, 26))
    add("apikey-query", "GET /v1/data?apikey={secret}&q=1 200", fake(ALNUM, 32))
    add("access-token-query", "redirect to https://app.example.com/cb?code=1&access_token={secret}", fake(URLSAFE, 40))
    add("azure-sas-signature", "https://acct.blob.core.windows.net/c/b?sv=2021&sig={secret}&se=2026",
        fake(ALNUM, 43) + "%3D")
    add("signed-url-signature", "https://s3.amazonaws.com/b/k?X-Amz-Signature={secret}", fake(HEX, 64))

    # command lines
    add("psql-password-flag", "psql --password {secret} -h db", fake(ALNUM, 12))
    add("password-equals-flag", "pg_dump --password={secret} shop", fake(ALNUM, 12))
    add("mysql-p-flag", "mysql -u root -p{secret} shop < dump.sql", fake(ALNUM, 12))
    add("curl-user", "curl -u admin:{secret} https://jenkins.example.com/api", fake(ALNUM, 12))
    add("curl-user-long", "curl --user deploy:{secret} https://registry.example.com", fake(ALNUM, 12))
    add("redis-cli-auth", "redis-cli -a x --pass {secret} ping", fake(ALNUM, 16))
    add("token-flag", "vault login --token {secret}", fake(ALNUM, 24))
    add("docker-login", "docker login -u bot --password {secret} registry.example.com", fake(ALNUM, 20))
    add("netrc", "machine api.example.com login bot password {secret}", fake(ALNUM, 16))

    # key = value and friends
    add("db-pass-env", "DB_PASS={secret}", fake(ALNUM, 12))
    add("mysql-pwd-env", "MYSQL_PWD={secret} mysql -u root", fake(ALNUM, 12))
    add("pgpassword-env", "PGPASSWORD={secret} psql -h db", fake(ALNUM, 12))
    add("docker-env-flag", "docker run -e POSTGRES_PASSWORD={secret} postgres", fake(ALNUM, 12))
    add("json-password", '{{"user": "app", "password": "{secret}"}}', fake(ALNUM + "!#", 14))
    add("json-client-secret", '{{"client_id": "abc", "client_secret": "{secret}"}}', fake(ALNUM, 32))
    add("json-api-key", '{{"apiKey": "{secret}", "region": "eu"}}', fake(ALNUM, 32))
    add("yaml-password", "  password: {secret}", fake(ALNUM, 16))
    add("yaml-secret-key", "secret_key: '{secret}'", fake(ALNUM, 40))
    add("ini-secret", "secret = {secret}", fake(ALNUM, 24))
    add("aws-secret-json", '{{"AccessKeyId": "AKIA...", "SecretAccessKey": "{secret}"}}', fake(B64, 40))
    add("aws-secret-ini", "aws_secret_access_key = {secret}", fake(B64, 40))
    add("aws-secret-env", "AWS_SECRET_ACCESS_KEY={secret}", fake(B64, 40))
    add("access-token-kv", "access_token={secret} expires_in=3600", fake(URLSAFE, 40))
    add("refresh-token-json", '{{"refresh_token": "{secret}"}}', fake(URLSAFE, 40))
    add("auth-token-env", "DATADOG_API_KEY={secret}", fake(HEX, 32))
    add("kubeconfig-client-key-data", "    client-key-data: {secret}", fake(B64, 64))
    add("private-key-passphrase", "ssh_key_passphrase: {secret}", fake(ALNUM, 14))
    add("encryption-key", "ENCRYPTION_KEY={secret}", fake(B64, 44))
    add("cookie-secret", "SESSION_SECRET={secret}", fake(ALNUM, 32))
    add("django-secret", "DJANGO_SECRET_KEY='{secret}'", fake(ALNUM + "!@#%^&*(-_=+)", 50))
    add("credentials-kv", "credentials={secret}", fake(ALNUM, 24))
    add("heroku-api-key-env", "HEROKU_API_KEY={secret}", "8f3c2b1a-1d2e-4f5a-9b8c-" + fake(HEX, 12))
    add("cloudflare-token-env", "CLOUDFLARE_API_TOKEN={secret}", fake(URLSAFE, 40))

    # cloud provider formats
    add("aws-access-key-id", "using key {secret} for s3", "AKIA" + fake(string.ascii_uppercase + string.digits, 16))
    add("aws-session-key-id", "assumed ASIA{secret}", fake(string.ascii_uppercase + string.digits, 16))
    add("gcp-api-key", "maps key AIza{secret} loaded", fake(URLSAFE, 35))
    add("gcp-oauth-client-secret", "client secret GOCSPX-{secret}", fake(URLSAFE, 28))
    add("azure-account-key", "DefaultEndpointsProtocol=https;AccountName=x;AccountKey={secret};EndpointSuffix=core",
        fake(B64, 86) + "==")
    add("azure-shared-access-key", "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=root;"
        "SharedAccessKey={secret}", fake(B64, 43) + "=")
    add("digitalocean-pat", "doctl auth init -t dop_v1_{secret}", fake(HEX, 64))
    add("alibaba-access-key", "ak LTAI{secret}", fake(ALNUM, 20))

    # source hosting, CI, registries
    for prefix in ("ghp", "gho", "ghu", "ghs", "ghr"):
        add(f"github-{prefix}", f"git push https://x-access-token@github.com ({prefix}_{{secret}})", fake(ALNUM, 36))
    add("github-fine-grained-pat", "GH token github_pat_{secret}", fake(ALNUM + "_", 82))
    add("gitlab-pat", "export CI_TOKEN=x; using glpat-{secret}", fake(URLSAFE, 20))
    add("gitlab-runner-token", "runner registered with glrt-{secret}", fake(URLSAFE, 20))
    add("npm-token", "//registry.npmjs.org/:_authToken npm_{secret}", fake(ALNUM, 36))
    add("pypi-token", "password = pypi-AgEIcHlwaS5vcmc{secret}", fake(URLSAFE, 60))
    add("docker-hub-pat", "login with dckr_pat_{secret}", fake(URLSAFE, 27))
    add("vault-service-token", "VAULT said hvs.{secret}", fake(URLSAFE, 90))
    add("terraform-cloud-token", "token {secret}", fake(string.ascii_lowercase + string.digits, 14) + ".atlasv1."
        + fake(string.ascii_lowercase + string.digits, 67))
    add("atlassian-token", "jira token ATATT3{secret}", fake(URLSAFE, 180))
    add("pulumi-token", "pulumi login pul-{secret}", fake(HEX, 40))
    add("postman-key", "postman PMAK-{secret}", fake(HEX, 24) + "-" + fake(HEX, 34))
    add("doppler-token", "doppler dp.st.{secret}", fake(ALNUM, 43))

    # chat, payments, SaaS
    add("slack-bot-token", "posting with xoxb-{secret}", "1234567890-1234567890123-" + fake(ALNUM, 24))
    add("slack-user-token", "xoxp-{secret}", "1234567890-1234567890-1234567890123-" + fake(HEX, 32))
    add("slack-refresh-token", "refresh: xoxe-1-{secret}", fake(ALNUM, 140))
    add("slack-config-token", "config xoxe.xoxp-1-{secret}", fake(ALNUM, 140))
    add("slack-app-token", "socket mode xapp-1-A0123456789-1234567890123-{secret}", fake(HEX, 64))
    add("slack-webhook", "POST https://hooks.slack.com/services/{secret}", "T0123ABCD/B0456EFGH/" + fake(ALNUM, 24))
    add("discord-webhook", "https://discord.com/api/webhooks/123456789012345678/{secret}", fake(URLSAFE, 68))
    add("telegram-bot-token", "bot {secret} started", "123456789:AA" + fake(URLSAFE, 33))
    add("stripe-secret-key", "stripe key sk_live_{secret}", fake(ALNUM, 24))
    add("stripe-restricted-key", "rk_live_{secret}", fake(ALNUM, 24))
    add("stripe-webhook-secret", "whsec_{secret}", fake(ALNUM, 32))
    add("square-token", "sq0atp-{secret}", fake(URLSAFE, 22))
    add("twilio-api-key", "twilio key SK{secret}", fake(HEX, 32))
    add("sendgrid-key", "SG.{secret}", fake(URLSAFE, 22) + "." + fake(URLSAFE, 43))
    add("mailgun-key", "mailgun api:key-{secret}", fake(HEX, 32))
    add("mailchimp-key", "mc {secret}", fake(HEX, 32) + "-us14")
    add("shopify-token", "shpat_{secret}", fake(HEX, 32))
    add("shopify-shared-secret", "shpss_{secret}", fake(HEX, 32))
    add("openai-key", "OPENAI key sk-{secret}", fake(ALNUM, 48))
    add("openai-project-key", "sk-proj-{secret}", fake(URLSAFE, 120))
    add("anthropic-key", "using sk-ant-api03-{secret}", fake(URLSAFE, 93) + "AA")
    add("huggingface-token", "hf_{secret}", fake(string.ascii_letters, 34))
    add("linear-key", "lin_api_{secret}", fake(ALNUM, 40))
    add("newrelic-key", "NRAK-{secret}", fake(string.ascii_uppercase + string.digits, 27))
    add("grafana-service-account", "glsa_{secret}_" + fake(HEX, 8), fake(ALNUM, 32))
    add("jwt", "session eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.{secret}", fake(URLSAFE, 43))
    add("discord-bot-token", "discord {secret}", "M" + fake(URLSAFE, 23) + "." + fake(URLSAFE, 6) + "."
        + fake(URLSAFE, 27))
    return s


SECRETS = _corpus()

# Ordinary operational lines: nothing here may change.
NORMAL = [
    "redis-cli -h cache -p 6379 ping",
    "redis-cli -u redis://cache:6379/0 info memory",
    "GET /api/health 200 in 35ms; pool 190/200; user U123 restarted api",
    "TOKEN_TTL=3600",
    "MAX_TOKENS: 4096",
    "password_reset_url: https://shop.example.com/reset",
    "2026-11-24T02:00:01Z INFO worker-3 processed 1532 jobs in 12.4s",
    "author: Alice Example",
    "token_type: bearer",
    "secret_name: db-credentials",
    "PASSWORD_MIN_LENGTH=12",
    "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "commit 3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39 Merge pull request #412",
    "Deployment api scaled from 3 to 5 replicas by U_ALICE",
    "ERROR connection refused to db.internal:5432 (attempt 3/5)",
    "WARN disk /var/lib/postgresql at 91% (threshold 90%)",
    "kubectl rollout undo deployment/api --to-revision=7",
    "docker compose -p shop up -d --no-deps api",
    'request_id=8d2f1c3a-4b5e-4f6a-9c7d-1e2f3a4b5c6d path=/checkout status=502 duration_ms=2311',
    "auth: true",
    "tokenizer: bert-base-uncased",
    "passenger count 4, bypass mode off",
    "Certificate for shop.example.com expires in 27 days (2026-12-21)",
    "SELECT count(*) FROM pg_stat_activity WHERE state = 'active';",
    "pg_dump --format=custom --file=/backups/shop-2026-11-24.dump shop",
    "cron: 0 2 * * sun  weekly maintenance",
    "https://grafana.example.com/d/abc123/api-latency?orgId=1&from=now-1h",
    "Redis memory 412.3M of 2.0G (20%), 87 clients",
    "user=app db=shop host=10.0.0.12 LOG: duration: 1523.117 ms statement: SELECT 1",
    "rotate_secrets: enabled",
    "api_key_header: X-API-Key",
    "Step 4/7 : RUN pip install -r requirements.txt",
]

# Shapes found by review (an attacker's read of the first rules): each must be masked too.
SECRETS += [
    ("json-basic-auth", '{"Authorization": "Basic dXNlcjpodW50ZXIyMDI0IQ=="}', "dXNlcjpodW50ZXIyMDI0IQ=="),
    ("bare-authorization", "Authorization: 9f8e7d6c5b4a39281706f5e4d3c2b1a0", "9f8e7d6c5b4a39281706f5e4d3c2b1a0"),
    ("laravel-app-key", "APP_KEY=base64:Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==", "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA=="),
    ("jwt-key-env", "JWT_KEY=s3cr3tjwtkey42", "s3cr3tjwtkey42"),
    ("password-with-dollar", "DB_PASSWORD=$ecretPass123", "$ecretPass123"),
    ("numeric-password", "DB_PASSWORD=9081726", "9081726"),
    ("env-prefixed-password", "PROD_ENV_PASSWORD=xyzzy42Q", "xyzzy42Q"),
    ("password-hash", "user_password_hash=$2b$12$abcdefghijklmnopqrstuv", "$2b$12$abcdefghijklmnopqrstuv"),
    ("redis-cli-a", "redis-cli -h cache -a R3disPassw0rd ping", "R3disPassw0rd"),
    ("sshpass-p", "sshpass -p Sup3rS3cret ssh deploy@host", "Sup3rS3cret"),
    ("cookie-header", "Cookie: sessionid=7f3a9c1e2b4d6f8a0c1e3b5d7f9a2c4e", "7f3a9c1e2b4d6f8a0c1e3b5d7f9a2c4e"),
    ("json-escaped-url", '{"dsn": "postgres:\\/\\/app:Pg5ecret@db:5432\\/shop"}', "Pg5ecret"),
    ("password-with-semicolon", "DB_PASSWORD=hunter2;drop", "hunter2;drop"),
]
NORMAL += [
    "token_type=bearer expires_in=3600",
    "Bearer authentication required",
    "password_changed_at=2026-11-20T09:00:00Z",
    "auth=ok",
    "password: invalid for user bob",
    "token: expired",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
    "GET /?code=200 HTTP/1.1",
    "DB_PASSWORD=${DB_PASS}",
]
