#!/usr/bin/env bash
# e2e/lemonldap/setup.sh — configures a throw-away LemonLDAP::NG (Debian's lemonldap-ng 2.16) in DIR as an
# OpenID Connect provider for Drawbridge, on loopback: the Demo users (dwho, rtyler, msmith; password = login),
# one relying party, its own nginx and FastCGI server. Nothing outside DIR is read for state or written.
#
#   e2e/lemonldap/setup.sh DIR --port PORT --client-id ID --client-secret SECRET \
#       --redirect-uri URI --post-logout-redirect-uri URI [--access-token-ttl SECONDS] [--run-as USER]
#
# Then start (both in the foreground; DIR/start.sh does exactly this):
#   LLNG_DEFAULTCONFFILE=DIR/lemonldap-ng.ini llng-fastcgi-server --foreground --socket DIR/llng.sock ...
#   nginx -p DIR -c DIR/nginx.conf -e DIR/nginx-error.log
# The issuer is http://127.0.0.1:PORT. See docs/idp/lemonldap-ng.md.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
die() { echo "lemonldap setup: $*" >&2; exit 1; }

[ $# -ge 1 ] || die "usage: $0 DIR --port PORT --client-id ID --client-secret SECRET --redirect-uri URI --post-logout-redirect-uri URI [--access-token-ttl SECONDS] [--run-as USER]"
dir="$1"; shift
port='' client_id='' client_secret='' redirect_uri='' post_logout_uri='' access_ttl=3600 run_as=''
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || die "option $1 needs a value"
  case "$1" in
    --port) port="$2" ;;
    --client-id) client_id="$2" ;;
    --client-secret) client_secret="$2" ;;
    --redirect-uri) redirect_uri="$2" ;;
    --post-logout-redirect-uri) post_logout_uri="$2" ;;
    --access-token-ttl) access_ttl="$2" ;;
    --run-as) run_as="$2" ;;
    *) die "unknown option $1" ;;
  esac
  shift 2
done

# The packages this needs, with the command that installs them (CI runs it: .ci/run).
for f in /usr/sbin/llng-fastcgi-server /usr/share/perl5/Lemonldap/NG/Portal/Issuer/OpenIDConnect.pm; do
  [ -e "$f" ] || die "$f is missing: apt-get install --no-install-recommends lemonldap-ng lemonldap-ng-fastcgi-server"
done
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || die "nginx is missing: apt-get install nginx"

[[ "$port" =~ ^[0-9]+$ ]] || die "--port must be a number"
[[ "$access_ttl" =~ ^[0-9]+$ ]] || die "--access-token-ttl must be a number of seconds"
# LL::NG 2.16 never URL-decodes the `Authorization: Basic` credentials (RFC 6749 §2.3.1 form-encodes them, and
# openid-client does: `-` becomes %2D) and splits them on ':', so only letters and digits work with both
# client_secret_basic and client_secret_post (see docs/idp/lemonldap-ng.md); refuse anything else here.
[[ "$client_id" =~ ^[A-Za-z0-9]+$ ]] || die "--client-id must be letters and digits"
[[ "$client_secret" =~ ^[A-Za-z0-9]{16,}$ ]] || die "--client-secret must be 16 or more letters and digits"
for uri in "$redirect_uri" "$post_logout_uri"; do
  [[ "$uri" =~ ^https?://[^[:space:]\"\\]+$ ]] || die "not a URI: '$uri'"
done

mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
mkdir -p "$dir/conf" "$dir/sessions/lock" "$dir/psessions/lock" "$dir/cache" "$dir/nginx"

# The ID token signing key (RS256), new for each instance.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/oidc-key.pem" 2>/dev/null
openssl pkey -in "$dir/oidc-key.pem" -pubout -out "$dir/oidc-key.pub.pem"

# Fills @NAME@ in a template: every value is JSON-escaped for the .json template (PEM keys hold newlines).
fill() {
  DIR="$dir" PORT="$port" CLIENT_ID="$client_id" CLIENT_SECRET="$client_secret" REDIRECT_URI="$redirect_uri" \
  POST_LOGOUT_REDIRECT_URI="$post_logout_uri" ACCESS_TOKEN_TTL="$access_ttl" \
  NGINX_USER="${run_as:+user $run_as;}" \
  PRIVATE_KEY="$(cat "$dir/oidc-key.pem")" PUBLIC_KEY="$(cat "$dir/oidc-key.pub.pem")" \
  perl -MJSON::PP -0777 -pe '
    my $json = $ARGV =~ /\.json\.in$/;
    s{\@([A-Z_]+)\@}{
      defined $ENV{$1} or die "no value for \@$1\@\n";
      $json ? substr(JSON::PP->new->allow_nonref->encode($ENV{$1}), 1, -1) : $ENV{$1}
    }ge' "$1" > "$2"
}
fill "$here/lmConf-1.json.in" "$dir/conf/lmConf-1.json"
fill "$here/lemonldap-ng.ini.in" "$dir/lemonldap-ng.ini"
fill "$here/nginx.conf.in" "$dir/nginx.conf"

fastcgi_user=()
[ -n "$run_as" ] && fastcgi_user=(--user "$run_as" --group "$(id -gn "$run_as")")
cat > "$dir/start.sh" <<START
#!/bin/sh
# Starts this LemonLDAP::NG in the foreground (Ctrl-C stops both): http://127.0.0.1:$port
LLNG_DEFAULTCONFFILE='$dir/lemonldap-ng.ini' /usr/sbin/llng-fastcgi-server --foreground --proc 2 --socket '$dir/llng.sock' --pid '$dir/llng.pid' ${fastcgi_user[*]} &
trap 'kill \$! 2>/dev/null' EXIT INT TERM
nginx -p '$dir' -c '$dir/nginx.conf' -e '$dir/nginx-error.log'
START
chmod +x "$dir/start.sh"

# The FastCGI server refuses to run as root: when it runs as another user, that user owns the state.
if [ -n "$run_as" ]; then chown -R "$run_as:$(id -gn "$run_as")" "$dir"; fi
echo "http://127.0.0.1:$port"
