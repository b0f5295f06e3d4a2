# pki with files made by the openssl command line, and back: CA-signed
# CSRs, the lab CA, PKCS#12, bundles, inspect, list, unlock.
start_daemon
mkdir -p "$DATA/files"
F="$DATA/files"
(
	cd "$F" || exit 1
	openssl req -x509 -newkey rsa:2048 -nodes -keyout root.key -out root.crt \
	    -subj /CN=Root-CA -days 30 -addext basicConstraints=critical,CA:TRUE \
	    -addext keyUsage=critical,keyCertSign,cRLSign
	openssl req -newkey rsa:2048 -nodes -keyout inter.key -out inter.csr \
	    -subj /CN=Inter-CA
	printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' >ca.ext
	openssl x509 -req -in inter.csr -CA root.crt -CAkey root.key \
	    -CAcreateserial -out inter.crt -days 30 -extfile ca.ext
	rm -f ca.ext inter.csr root.srl
	openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key \
	    -out other.crt -subj /CN=Other-CA -days 30
) >/dev/null 2>&1
say our CSR signed by an openssl CA passes pki verify and pki match
mmp pki csr node1 CN:node1.example.com subjectAltName:10.0.0.1
(cd "$F" && openssl x509 -req -in node1.csr -CA inter.crt -CAkey inter.key \
    -CAcreateserial -out node1.crt -days 10 -copy_extensions copy) >/dev/null 2>&1
cat "$F/inter.crt" "$F/root.crt" >"$F/chain.crt"
mmp pki verify node1.crt chain.crt
mmp pki verify node1.crt inter.crt root.crt
mmp pki match node1.key node1.crt
say a mismatched key, a bundle in the wrong order, a missing intermediate
mmp pki match other.key node1.crt
cat "$F/root.crt" "$F/inter.crt" >"$F/wrong-order.crt"
mmp pki verify node1.crt wrong-order.crt
mmp pki verify node1.crt root.crt
mmp pki verify node1.crt other.crt
say pki bundle puts them in order, whatever order they came in
mmp pki bundle fixed.crt root.crt inter.crt
mmp pki verify node1.crt fixed.crt
mmp pki bundle fixed.crt root.crt inter.crt
mmp pki bundle mixed.crt root.crt other.crt
mmp pki bundle cluster-trust.crt trust node1.crt other.crt node1.crt
grep -c 'BEGIN CERTIFICATE' "$F/cluster-trust.crt"
say an expired certificate
(cd "$F" && openssl x509 -req -in node1.csr -CA inter.crt -CAkey inter.key \
    -CAcreateserial -out old.crt -days -1) >/dev/null 2>&1
mmp pki verify old.crt chain.crt
say the lab CA: openssl verifies what it signs
mmp pki ca init labca "CN:Lab CA" days:90
mmp pki csr node2 CN:node2.example.com subjectAltName:node2.example.com,10.0.0.2
mmp pki ca sign labca node2.csr days:30
ossl verify -CAfile labca.crt node2.crt
(cd "$F" && openssl x509 -noout -text -in node2.crt) | \
    grep -A1 -E 'Subject Alternative Name|Extended Key Usage|Basic Constraints' | \
    sed 's/^ *//'
mmp pki ca sign labca node2.csr
mmp pki ca sign nosuchca node2.csr
mmp pki ca sign labca node2.csr CN:x
say PKCS#12 from openssl converts back to a matching pair
(cd "$F" && openssl pkcs12 -export -inkey node1.key -in node1.crt \
    -certfile chain.crt -out node1.p12 -passout pass:p12-pass) >/dev/null 2>&1
mmp_in 'wrong-pass\n' pki pkcs12-to-pem node1.p12 fromp12
ls "$F" | grep -c fromp12
mmp_in 'p12-pass\n' pki pkcs12-to-pem node1.p12 fromp12
mmp pki match fromp12.key fromp12.crt
mmp pki verify fromp12.crt fromp12-chain.crt
mmp_in 'p12-pass\n' pki pkcs12-to-pem node1.p12 fromp12
say unlock an encrypted key
(cd "$F" && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -aes256 -pass pass:key-pass -out locked.key) >/dev/null 2>&1
mmp_in 'nope\n' pki unlock locked.key
mmp_in 'key-pass\n' pki unlock locked.key
ossl pkey -noout -in locked.key -passin pass:
mmp pki unlock locked.key
say broken files
head -c 600 "$F/node1.crt" >"$F/truncated.crt"
(cd "$F" && openssl x509 -in node1.crt -outform DER -out node1.der)
mmp pki inspect truncated.crt
mmp pki verify truncated.crt chain.crt
mmp pki match node1.key truncated.crt
mmp pki match node1.key node1.der
mmp pki inspect node1.der | grep -E '^(Certificate|  Subject|  Extended)'
head -c 300 /dev/zero >"$F/zeros.bin"
mmp pki inspect zeros.bin
mmp pki inspect nosuch.crt
say inspect and list
mmp pki inspect node2.crt | grep -E '^(Certificate|  (Subject|Issuer|SANs|Key|Validity|Extended|CA) )'
mmp pki list
