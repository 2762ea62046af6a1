# A small stand-in for nixpkgs, enough to evaluate nix/*.nix offline. Every
# builder returns its arguments (plus a fake outPath), so the tests can
# assert on what our expressions pass to nixpkgs. `version` plays the nixpkgs
# release (lib.version).
{ mockVersion ? "24.11" }:
let
  drv = kind: attrs: attrs // {
    mockKind = kind;
    outPath = "/nix/store/00000000000000000000000000000000-mock-${kind}";
  };
  pkg = name: drv name { pname = name; };
  pkgsNamed = names: builtins.listToAttrs (map (name: { inherit name; value = pkg name; }) names);
  lib = {
    licenses = { lgpl2Plus = "lgpl2Plus"; };
    platforms = { linux = [ "x86_64-linux" "aarch64-linux" ]; };
    version = mockVersion;
    versionAtLeast = a: b: builtins.compareVersions a b >= 0;
    makeBinPath = packages: builtins.concatStringsSep ":" (map (p: "${p}/bin") packages);
  };
  pkgs = pkgsNamed [ "bison" "python3" "patchelf" "rpm" "cpio" "coreutils" "findutils" "gnugrep" "gnused" ] // {
    inherit lib;
    stdenv = {
      mkDerivation = attrs: drv "mkDerivation" attrs;
      hostPlatform = { system = "x86_64-linux"; };
      cc = { cc = pkg "gcc-unwrapped" // { lib = pkg "gcc-unwrapped-lib";
                                            override = args: drv "gcc-rebuilt" (args // { pname = "gcc-rebuilt"; }); };
             bintools = { bintools = pkg "binutils-unwrapped"; }; };
    };
    gcc12Stdenv = pkgs.stdenv // {
      cc = pkgs.stdenv.cc // { cc = pkg "gcc12-unwrapped" // { lib = pkg "gcc12-unwrapped-lib"; }; };
    };
    fetchurl = args: drv "fetchurl" args;
    linuxHeaders = pkg "linux-headers";
    python3Packages = pkgsNamed [ "setuptools" "auditwheel" "isal" "packaging" "pyelftools" "rich" "typer" ] // {
      buildPythonApplication = attrs: drv "buildPythonApplication" attrs;
    };
    makeSetupHook = attrs: script: drv "makeSetupHook" (attrs // { inherit script; });
    wrapBintoolsWith = args: drv "wrapBintoolsWith" args;
    wrapCCWith = args: drv "wrapCCWith" args;
    overrideCC = stdenv: cc: { mockKind = "overrideCC"; inherit cc; base = stdenv; };
    callPackage = fn: overrides:
      let f = if builtins.isFunction fn then fn else import fn;
      in f (builtins.intersectAttrs (builtins.functionArgs f) pkgs // overrides);
  };
in
pkgs
