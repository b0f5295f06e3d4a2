# Batch mode names the right line when earlier lines were answers to
# prompts (secrets, passwords), and add-secret asks twice (issue 15).
start_daemon
say a failing command after six lines of secrets is named by its own line
mmp_in 'xmpp domain example.com\nxmpp user add edgeuser\npw-edge-1\npw-edge-1\nxmpp callbridge add-secret cb1\ncb-secret-1\ncb-secret-1\n# a comment\nxmpp cluster join 127.0.0.1\nversion\n'
say add-secret with two different secrets adds nothing
mmp_in 'cb-secret-2\ncb-secret-X\n' xmpp callbridge add-secret cb2
mmp xmpp callbridge list | mask_secrets
say add-secret with the second answer missing adds nothing
mmp_in 'cb-secret-2\n' xmpp callbridge add-secret cb2
say the same in a batch: the mismatch is named by the line of the command
mmp_in 'version\nxmpp callbridge add-secret cb3\nfirst-secret\nsecond-secret\nversion\n'
mmp xmpp callbridge list | grep -c '^Callbridge'
