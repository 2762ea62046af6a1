# A builtins.derivation that sources nix/hook.sh like stdenv would. The test
# passes the objects to install, the PATH holding abicheck, and a nonce so
# every run builds afresh. With structured = "1" it is built with
# __structuredAttrs and two outputs, the objects in `lib`.
{ objects, path, nonce, dontAbicheck ? "", abicheckTarget ? "", abicheckFlags ? "", structured ? "" }:
builtins.derivation ({
  name = "abicheck-hook-test";
  system = builtins.currentSystem;
  builder = "/bin/bash";
  hook = ../../nix/hook.sh;
  PATH = path;
  inherit objects nonce dontAbicheck abicheckTarget abicheckFlags;
} // (if structured == "1" then {
  __structuredAttrs = true;
  outputs = [ "out" "lib" ];
  args = [ ./hook-harness-structured.sh ];
} else {
  args = [ ./hook-harness.sh ];
}))
