"""Em in a live IRC channel, and real channel logs back into reviewed data.

config.py     channel specs (`#general=LOW`), the operators file, the server address
transcript.py the append-only, fsynced JSONL transcript of every channel line and decision
decide.py     per-channel state, the prompt (header + the recent log that fits the budget), the
              next-speaker decision and the hard caps
linecheck.py  one candidate line through the training data's rules
controls.py   operators' private-message commands
client.py     the IRC client (the `irc` library): connect, PING, nick fallback, reconnect, QUIT
stats.py      `em-gen irc --stats TRANSCRIPT`
logformats.py transcript / weechat / irssi / znc log readers
importlogs.py `em-gen --import-logs`: windows around Em's lines, pseudonymised, gated, deduplicated
"""
