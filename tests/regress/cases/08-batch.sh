# Batch mode: comments and blank lines skipped, stops at the first
# failing line and names it.
start_daemon
say a clean batch
mmp_in '# set up\n\nxmpp domain example.com\n   \nxmpp listen 127.0.0.1\n# done\nxmpp cluster status\n'
say a batch that fails on line 3 stops there
mmp_in 'xmpp domain example.org\n# two\nxmpp callbridge del nosuch\nxmpp domain never.example\n'
mmp xmpp | grep '^Domain'
say a batch that does not parse on line 2 exits 2
mmp_in 'version\nxmpp frob\nxmpp domain never.example\n'
say a secret on the next line of a batch
mmp_in 'xmpp callbridge add-secret cb1\nbatch-secret-1\nbatch-secret-1\nxmpp callbridge list\n'
say an unbalanced quote
mmp_in 'xmpp domain "example.com\n'
say exit ends a batch with success
mmp_in 'version\nexit\nxmpp frob\n'
