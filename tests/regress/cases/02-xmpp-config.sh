# Domain, listen, ports, max_sessions and the status block.
start_daemon
say an empty configuration
mmp xmpp
say domain is lower-cased
mmp xmpp domain Example.COM
say bad domains
mmp xmpp domain bad..example.com
mmp xmpp domain -example.com
mmp xmpp domain exa_mple.com
mmp xmpp domain aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com
say listen on literals and an interface that exists
mmp xmpp listen 127.0.0.1 ::1 lo
say listen refuses what does not exist or repeats
mmp xmpp listen nosuchif0 | sed 's/are: .*lo.*/are: <list with lo>/'
mmp xmpp listen 127.0.0.1 127.0.0.1
mmp xmpp listen 300.1.1.1
say ports
mmp xmpp port client 5300
mmp xmpp port component 5300
mmp xmpp port component 0
mmp xmpp port client 65536
mmp xmpp port component 5301
say max_sessions
mmp xmpp max_sessions 3
mmp xmpp max_sessions 0
mmp xmpp max_sessions many
say the status block shows it all
mmp xmpp
mmp xmpp max_sessions unl
mmp xmpp
