# What does not parse exits 2 and says what was possible.
start_daemon
say unknown words
mmp frobnicate
mmp xmpp frobnicate
say ambiguous prefixes
mmp xm c
mmp xmpp callbridge a cb1
say incomplete commands
mmp xmpp callbridge
mmp xmpp port
mmp xmpp certs xmpp.key
say too many words
mmp xmpp enable now
mmp version 2
say abbreviations that are unique work
mmp xm cl st
mmp xmpp callbridge l
mmp ver
say quotes keep blanks together in batch mode
mmp_in 'xmpp domain "two words"\n'
