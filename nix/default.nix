# nix-build nix -A abicheck | abicheckHook | glibc_2_28 | stdenvGlibc228
{ pkgs ? import <nixpkgs> { } }:

let
  abicheck = pkgs.callPackage ./package.nix { };
  glibc_2_28 = pkgs.callPackage ./glibc-2_28.nix { };
in
{
  inherit abicheck glibc_2_28;

  # Add to nativeBuildInputs: checks every output after fixupPhase.
  abicheckHook = pkgs.makeSetupHook {
    name = "abicheck-hook";
    propagatedBuildInputs = [ abicheck ];
    substitutions = { abicheck = "${abicheck}/bin/abicheck"; };
  } ./hook.sh;

  stdenvGlibc228 = pkgs.callPackage ./stdenv.nix { inherit glibc_2_28; };
}
