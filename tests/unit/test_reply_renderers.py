"""One neutral reply, three surfaces: Block Kit/mrkdwn, plain text and HTML each escape typed text their own way,
so a title can never inject a ping, a link or a script, whichever surface shows it."""
from __future__ import annotations

from bot.views.blocks import mrkdwn, to_blocks
from bot.views.html import to_html
from bot.views.model import (
    Code,
    Headline,
    Link,
    Mention,
    Preformatted,
    Strong,
    line,
    lines,
    neutral,
    paragraph,
    reply,
)
from bot.views.text import to_text

HOSTILE = "<!channel> <script>alert(1)</script> & <https://evil.example|click>"


def sample():
    return reply(line("Update on ", Strong("INC-1")), Headline("INC-1 · P1 · " + HOSTILE),
                 paragraph("📣 from ", Mention("U0ALICE"), ": ", neutral(HOSTILE + " cc @U0BOB")),
                 lines([line(Code("/ops restart api prod"), " — ", Link("https://grafana.example/d/1", "graph"))]),
                 Preformatted("DB_HOST=<db> & done"))


def test_mrkdwn_escapes_typed_text_and_keeps_mentions_and_markup():
    blocks = to_blocks(sample())
    section = blocks[1]["text"]["text"]
    assert section == ("📣 from <@U0ALICE>: &lt;!channel&gt; &lt;script&gt;alert(1)&lt;/script&gt; &amp; "
                       "&lt;https://evil.example|click&gt; cc <@U0BOB>")
    assert blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": "INC-1 · P1 · " + HOSTILE,
                                                    "emoji": True}}
    assert mrkdwn(line(Strong("a*b"), Code("x<y"))) == "*a*b*`x&lt;y`"
    assert blocks[3]["text"]["text"] == "```DB_HOST=&lt;db&gt; &amp; done```"


def test_plain_text_shows_typed_text_as_typed():
    text = to_text(sample())
    assert "📣 from @U0ALICE: " + HOSTILE + " cc @U0BOB" in text
    assert "`/ops restart api prod` — graph (https://grafana.example/d/1)" in text


def test_html_escapes_everything_and_links_only_web_urls():
    html = to_html(sample())
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<span class="mention">@U0ALICE</span>' in html
    assert '<a href="https://grafana.example/d/1" rel="noopener noreferrer">graph</a>' in html
    assert "<pre>DB_HOST=&lt;db&gt; &amp; done</pre>" in html
    assert "<a " not in to_html(reply("x", paragraph(Link("javascript:alert(1)", "x"))))


def test_a_replys_texts_are_redacted_together_and_a_match_across_two_texts_still_redacts_each():
    from commands.router import redacted

    secret = "DB_PASSWORD=hunter2"
    answer = redacted(reply(line("ran ", Code(secret)), paragraph("out: ", secret, " and ", Strong("token=abc123xyz")),
                            Preformatted(f"{secret}\nok")))
    shown = to_text(answer) + answer.text
    assert "hunter2" not in shown and "abc123xyz" not in shown and "ok" in shown and "out: " in shown


def test_a_secret_on_a_line_of_its_own_is_redacted_in_any_text_of_a_reply():
    from commands.router import redacted

    answer = redacted(reply("x", paragraph("see"), Preformatted("bindpw s3cr3tpassw0rd")))
    assert "s3cr3tpassw0rd" not in to_text(answer)


def test_slack_files_send_the_token_only_to_slack_over_https_or_to_the_configured_api_as_it_is():
    from slack_sdk import WebClient

    from bot.slack.files import SlackFiles

    slack = SlackFiles(WebClient(token="xoxb-x", base_url="https://www.slack.com/api/"))
    assert slack._fetchable("https://files.slack.com/files-pri/T1-F1/a.txt")
    assert not slack._fetchable("http://www.slack.com/files-pri/T1-F1/a.txt")  # never the token in clear
    assert not slack._fetchable("https://slack.com.evil.example/x")
    local = SlackFiles(WebClient(token="xoxb-x", base_url="http://127.0.0.1:8081/api/"))
    assert local._fetchable("http://127.0.0.1:8081/files-pri/T1-F1/a.txt")
    assert not local._fetchable("http://127.0.0.1:9999/files-pri/T1-F1/a.txt")
