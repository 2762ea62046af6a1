# A builtins.derivation that sources nix/hook.sh like stdenv would. The test
# passes the objects to install, the PATH holding abicheck, and a nonce so
# every run builds afresh.
{ objects, path, nonce, dontAbicheck ? "", abicheckTarget ? "", abicheckFlags ? "" }:
builtins.derivation {
  name = "abicheck-hook-test";
  system = builtins.currentSystem;
  builder = "/bin/bash";
  args = [ ./hook-harness.sh ];
  hook = ../../nix/hook.sh;
  PATH = path;
  inherit objects nonce dontAbicheck abicheckTarget abicheckFlags;
}
