// What a frontend does with the API, type-checked in CI (`npm run check`): page through an
// organization's members with `next_cursor`, then revalidate the first page with its ETag
// (a 304 costs the API one Redis lookup and no body).
import { type CollabcacheClient, type components, errorMessage } from "./index";

type Member = components["schemas"]["MemberPublic"];
const MEMBERS = "/api/organizations/{org_id}/members";

export async function allMembers(client: CollabcacheClient, orgId: string): Promise<Member[]> {
  const members: Member[] = [];
  let cursor: string | undefined;
  do {
    const { data, error } = await client.GET(MEMBERS, {
      params: { path: { org_id: orgId }, query: { limit: 100, cursor } },
    });
    if (error) throw new Error(errorMessage(error));
    members.push(...data.items);
    cursor = data.next_cursor ?? undefined;
  } while (cursor);
  return members;
}

export type FirstPage =
  | { changed: false; etag: string }
  | { changed: true; etag: string | null; cache: string | null; members: Member[] };

/** The first page of members, unless it is still the one whose ETag the caller holds. */
export async function firstPageIfChanged(
  client: CollabcacheClient,
  orgId: string,
  etag?: string,
): Promise<FirstPage> {
  const { data, error, response } = await client.GET(MEMBERS, {
    params: { path: { org_id: orgId } },
    headers: etag ? { "If-None-Match": etag } : {},
  });
  if (response.status === 304 && etag) return { changed: false, etag };
  if (error) throw new Error(errorMessage(error));
  return {
    changed: true,
    etag: response.headers.get("ETag"),
    cache: response.headers.get("X-Cache"), // HIT, MISS, STALE or BYPASS
    members: data.items,
  };
}
