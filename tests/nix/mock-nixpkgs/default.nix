# `import nixpkgs { system; overlays; }` for flake.nix's test: the mock package
# set of ../mock-pkgs.nix for that system, with the overlays applied over it
# the way nixpkgs applies them (each sees the final set).
{ system, overlays ? [ ] }:
let
  base = import ../mock-pkgs.nix { } // {
    stdenv = (import ../mock-pkgs.nix { }).stdenv // { hostPlatform = { inherit system; }; };
  };
  fix = f: let final = f final; in final;
in
fix (final: builtins.foldl' (acc: overlay: acc // overlay final acc) base overlays)
