#!/usr/bin/env bash
# Makes a CA and a serving certificate for the token-broker webhook Service.
#
#   certs/generate.sh [service] [namespace] [out-dir]
#     defaults: token-broker-webhook token-broker ./certs/out
#   EXTRA_SANS="DNS:localhost,IP:127.0.0.1"   more subjectAltNames (optional)
#   DAYS=365                                  serving certificate lifetime (CA: 10 years)
#
# Writes ca.crt, ca.key, tls.crt, tls.key into out-dir. An existing ca.crt/ca.key pair there is reused,
# so re-running rotates the serving certificate without changing the caBundle the API server trusts.
# Keys are ECDSA P-256 (fast to make, accepted by the Kubernetes API server).
set -euo pipefail

service="${1:-token-broker-webhook}"
namespace="${2:-token-broker}"
out="${3:-./certs/out}"
days="${DAYS:-365}"

command -v openssl >/dev/null || { echo "generate.sh: openssl is required on PATH" >&2; exit 1; }
mkdir -p "$out"
umask 077

if [ ! -s "$out/ca.key" ] || [ ! -s "$out/ca.crt" ]; then
  openssl ecparam -name prime256v1 -genkey -noout -out "$out/ca.key"
  openssl req -x509 -new -key "$out/ca.key" -sha256 -days 3650 \
    -subj "/CN=token-broker-webhook-ca" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$out/ca.crt" 2>/dev/null
fi

fqdn="${service}.${namespace}.svc"
sans="DNS:${service},DNS:${service}.${namespace},DNS:${fqdn},DNS:${fqdn}.cluster.local"
[ -n "${EXTRA_SANS:-}" ] && sans="${sans},${EXTRA_SANS}"

# Write the new pair next to the old one, then rename, so a watching webhook never reads half a pair.
tmp="$(mktemp -d "$out/.tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/tls.key"
openssl req -new -key "$tmp/tls.key" -subj "/CN=${fqdn}" -out "$tmp/tls.csr" 2>/dev/null
cat >"$tmp/ext.cnf" <<CNF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=${sans}
CNF
openssl x509 -req -in "$tmp/tls.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -CAcreateserial \
  -CAserial "$tmp/ca.srl" -days "$days" -sha256 -extfile "$tmp/ext.cnf" -out "$tmp/tls.crt" 2>/dev/null
chmod 0644 "$tmp/tls.crt" "$out/ca.crt"
mv -f "$tmp/tls.key" "$out/tls.key"
mv -f "$tmp/tls.crt" "$out/tls.crt"

echo "wrote $out/{ca.crt,ca.key,tls.crt,tls.key} for ${fqdn} (SANs: ${sans})" >&2
echo "caBundle (base64 of ca.crt) for the MutatingWebhookConfiguration:" >&2
base64 -w0 <"$out/ca.crt"
echo
