# pki rough edges (issue 15): signing with a CA that does not exist says
# how to make one; a value split at a blank says how to quote it; errors
# name files by their store names.
start_daemon
say pki ca sign with a CA that does not exist
mmp pki csr web CN:web.example.com key:ec256
mmp pki ca sign labca web.csr
say a CA with its certificate missing
mmp pki csr half CN:half.example.com key:ec256
mmp pki ca sign half web.csr
say an unquoted value with a blank
mmp pki csr lab CN:Lab CA key:ec256
mmp pki ca init labca CN:Lab CA key:ec256
say a blank after a comma in subjectAltName
mmp pki csr web2 CN:web.example.com subjectAltName:a.example.com, b.example.com key:ec256
say quoted, both work
mmp pki ca init labca "CN:Lab CA" key:ec256
mmp pki csr web2 CN:web.example.com "subjectAltName:a.example.com, b.example.com" key:ec256
mmp pki ca sign labca web2.csr
say nothing was left behind by the refusals
store | grep -c 'lab\.'
say errors name files by their store names, never a full path
mmp xmpp cluster trust web.key
mmp pki verify web2.crt half.key
mmp pki selfsigned other CN:other.example.com key:ec256
mmp xmpp certs web2.key web2.crt
mmp xmpp cluster trust other.crt
say pki names, for TAB completion: by prefix, hidden from help, at most 256
mmp pki names web
mmp help pki | grep -c names
i=0
while [ $i -lt 300 ]; do : >"$DATA/files/many$i.crt"; i=$((i + 1)); done
"$TOP/mmp" -s "$SOCK" pki names many | wc -l
"$TOP/mmp" -s "$SOCK" pki names | wc -l
