# nix-build nix -A abicheck | abicheckHook | glibc_2_28 | stdenvGlibc228
#
# and two functions of RPM metadata (tools/rpm_metadata.py's JSON, parsed):
#   rpmPackages metadata                 the RPMs as a package set (nix/rpm)
#   stdenvEl8 { metadata; cuda ? null; } gcc-toolset over glibc 2.28, the C++
#                                        runtime EL8's (nix/rpm/toolchain.nix)
#
# Needs nixpkgs 24.05 or later (the expressions use `env`, --replace-fail,
# `build-system` and `dependencies`). Nix 2.8 evaluates nixpkgs up to 25.05;
# 25.11 needs Nix 2.18 or later.
{ pkgs ? import <nixpkgs> { } }:

let
  inherit (pkgs) lib;
  supported = lib ? version && lib.versionAtLeast lib.version "24.05";
  abicheck = pkgs.callPackage ./package.nix { };
  # Built by GCC 12: the newest GCC that built glibc 2.28 here (by hand, this expression's own phases and
  # flags, README "glibc_2_28 built by nix-build"). nixpkgs' default GCC (13.3 in 24.11, 14 in 25.05) is
  # untested with 2.28, and kernel-builder reports current GCCs failing on it.
  glibc_2_28 = pkgs.callPackage ./glibc-2_28.nix { stdenv = pkgs.gcc12Stdenv; };
  rpmPackages = metadata: import ./rpm {
    inherit metadata;
    system = pkgs.stdenv.hostPlatform.system;
    path = lib.makeBinPath (with pkgs; [ rpm cpio coreutils findutils gnugrep gnused ]);
  };
in
if !supported then
  throw "abicheck's nix/ needs nixpkgs 24.05 or later; this nixpkgs is ${lib.version or "older than 21.05"}"
else
{
  inherit abicheck glibc_2_28;

  # Add to nativeBuildInputs: checks every output after fixupPhase.
  abicheckHook = pkgs.makeSetupHook {
    name = "abicheck-hook";
    propagatedBuildInputs = [ abicheck ];
    substitutions = { abicheck = "${abicheck}/bin/abicheck"; };
  } ./hook.sh;

  stdenvGlibc228 = pkgs.callPackage ./stdenv.nix { inherit glibc_2_28; };

  rpmPackages = rpmPackages;
  stdenvEl8 = { metadata, cuda ? null, toolset ? null }: pkgs.callPackage ./rpm/toolchain.nix {
    rpms = rpmPackages metadata;
    glibc = glibc_2_28;
    system = pkgs.stdenv.hostPlatform.system;
    path = lib.makeBinPath [ pkgs.coreutils ];
    inherit cuda toolset;
  };
}
