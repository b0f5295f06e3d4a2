# xmpp callbridge add, add-secret, del, list.
start_daemon
say call bridges need the domain first
mmp xmpp callbridge add cb1
mmp_in 'secret-typed\nsecret-typed\n' xmpp callbridge add-secret cb2
mmp xmpp domain example.com
say add generates a secret
mmp xmpp callbridge add cb1 | mask_secrets
say the generated secret is 24 letters and digits and list shows the same
added=$("$TOP/mmp" -s "$SOCK" xmpp callbridge add cb3 | sed -n 's/^Secret *: //p')
listed=$("$TOP/mmp" -s "$SOCK" xmpp callbridge list | grep -A2 '^Callbridge *: cb3$' | sed -n 's/^Secret *: //p')
echo "$added" | grep -qE '^[A-Za-z0-9]{24}$' && echo "secret well formed"
[ "$added" = "$listed" ] && echo "list shows the secret add printed"
other=$("$TOP/mmp" -s "$SOCK" xmpp callbridge add cb4 | sed -n 's/^Secret *: //p')
[ "$added" != "$other" ] && echo "two call bridges get different secrets"
mmp xmpp callbridge del cb4
say a name that exists, bad names
mmp xmpp callbridge add cb1
mmp xmpp callbridge add "cb 1"
mmp xmpp callbridge add cb.1
mmp xmpp callbridge add aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
mmp xmpp callbridge add aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa | mask_secrets
say add-secret reads the secret, never from the command line
mmp_in 'typed-secret-1\ntyped-secret-1\n' xmpp callbridge add-secret cb2
mmp xmpp callbridge add-secret cb5 on-the-command-line
say add-secret refuses short, long and spaced secrets, and names that exist
mmp_in 'short\n' xmpp callbridge add-secret cb6
mmp_in "$(printf '%0257d' 0)\n" xmpp callbridge add-secret cb6
mmp_in 'has a space\n' xmpp callbridge add-secret cb6
mmp_in 'typed-secret-1\ntyped-secret-1\n' xmpp callbridge add-secret cb1
say add-secret with no answer at all
mmp_in '' xmpp callbridge add-secret cb6
say list
mmp xmpp callbridge list | mask_secrets
say del, and del of what is not there
mmp xmpp callbridge del cb2
mmp xmpp callbridge del cb2
mmp xmpp callbridge del aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
mmp xmpp callbridge list | mask_secrets
mmp xmpp | grep '^Call bridges'
