# pki csr and pki selfsigned: the files, their contents as openssl sees
# them, and every kind of bad input leaving nothing behind.
start_daemon
mkdir -p "$DATA/files"
say a CSR with subject, DNS and IP SANs
mmp pki csr xmpp CN:xmpp.example.com "O:Example Inc" OU:Video L:Oslo ST:Oslo C:no subjectAltName:xmpp.example.com,conf.example.com,10.0.0.1,::1
store
ossl req -verify -noout -in xmpp.csr
ossl req -noout -subject -in xmpp.csr
(cd "$DATA/files" && openssl req -noout -text -in xmpp.csr) | \
    grep -A1 -E 'Subject Alternative Name|Extended Key Usage|Key Usage|Public-Key' | \
    sed 's/^ *//'
say the CN is added to the SANs when missing, and the output says so
mmp pki csr ec CN:ec.example.com key:ec256
(cd "$DATA/files" && openssl req -noout -text -in ec.csr) | \
    grep -A1 -E 'Subject Alternative Name|Public-Key|ASN1 OID' | sed 's/^ *//'
ossl req -verify -noout -in ec.csr
say a CN that is not a host name is not added
mmp pki csr plain "CN:My Server"
(cd "$DATA/files" && openssl req -noout -text -in plain.csr) | \
    grep -c 'Subject Alternative Name'
say an existing basename is refused and nothing is overwritten
sum1=$(cd "$DATA/files" && sha256sum xmpp.key xmpp.csr)
mmp pki csr xmpp CN:other.example.com
sum2=$(cd "$DATA/files" && sha256sum xmpp.key xmpp.csr)
[ "$sum1" = "$sum2" ] && echo "xmpp.key and xmpp.csr unchanged"
say bad input: a clear error and no file left behind
mmp pki csr bad1 CN:a.example.com foo:bar
mmp pki csr bad2 CN:a.example.com C:USA
mmp pki csr bad3 CN:
mmp pki csr bad4 O:NoCN
mmp pki csr bad5 CN:a.example.com subjectAltName:good.example.com,bad_name.example.com
mmp pki csr bad6 CN:a.example.com subjectAltName:a.example.com,,b.example.com
mmp pki csr bad7 CN:a.example.com CN:b.example.com
mmp pki csr bad8 CN:a.example.com key:rsa1024
mmp pki csr ../bad9 CN:a.example.com
mmp pki csr .bad10 CN:a.example.com
mmp pki csr bad11 xmpp.example.com
mmp pki csr bad12 CN:a.example.com days:30
store
say a self-signed certificate
mmp pki selfsigned self CN:self.example.com days:30 key:ec384
ossl x509 -noout -subject -issuer -in self.crt
ossl verify -CAfile self.crt self.crt
(cd "$DATA/files" && openssl x509 -noout -text -in self.crt) | \
    grep -A1 -E 'Subject Alternative Name|Extended Key Usage|Basic Constraints' | \
    sed 's/^ *//'
mmp pki match self.key self.crt
mmp pki selfsigned self2 CN:x.example.com days:0
store
